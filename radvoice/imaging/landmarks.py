"""Simple landmarks found from HU alone (no model): where to put a crosshair that shows lung."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from radvoice.imaging.volume import Volume

LUNG_HU = (-1000, -400)


def lung_mask(volume: Volume, stride: int = 4) -> np.ndarray:
    """Air-density voxels enclosed by the body, on a grid subsampled in-plane by ``stride``.

    Air outside the patient touches the in-plane border of the image and is dropped; the z faces
    are allowed, because a chest scan often cuts through the lungs at its first and last slice.
    """
    arr = volume.array[:, ::stride, ::stride]
    air = (arr >= LUNG_HU[0]) & (arr <= LUNG_HU[1])
    labels, n = ndimage.label(air)
    if n == 0:
        return air
    border = np.unique(
        np.concatenate(
            [labels[:, 0, :].ravel(), labels[:, -1, :].ravel(), labels[:, :, 0].ravel(),
             labels[:, :, -1].ravel()]
        )
    )  # fmt: skip
    inside = air & ~np.isin(labels, border[border > 0])
    return ndimage.binary_opening(inside, iterations=1)


def lung_crosshair(volume: Volume, stride: int = 4) -> tuple[int, int, int] | None:
    """Voxel index (i, j, k) whose three slices all cut through lung, or None without lung.

    k: the axial slice with the most lung; i: the sagittal column with the most lung (so inside
    one lung, not the mediastinum); j: the coronal row with the most lung in that column.
    """
    mask = lung_mask(volume, stride)
    if mask.sum() < 50:
        return None
    k = int(np.argmax(mask.sum(axis=(1, 2))))
    i_s = int(np.argmax(mask.sum(axis=(0, 1))))
    j_s = int(np.argmax(mask[:, :, i_s].sum(axis=0)))
    _nz, ny, nx = volume.shape
    return min(i_s * stride, nx - 1), min(j_s * stride, ny - 1), k
