"""The anatomy of a real background on a case's grid: labels and points pushed through the
same smooth warp as the image (labels by nearest neighbour, points by inverting the warp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.real_anatomy import SourceAnatomy


@dataclass
class Anatomy:
    """The anatomy on a case's (warped) grid: labels, points and paths in that grid's mm."""

    labels: np.ndarray
    points: dict[str, np.ndarray]
    paths: dict[str, np.ndarray]
    stats: dict[str, Any]
    seed: int = 0  # for structures grown on demand (bronchial trees)

    def mask(self, *codes: int) -> np.ndarray:
        return np.isin(self.labels, codes)

    def has(self, *names: str) -> bool:
        return all(n in self.points or n in self.paths for n in names)


def _inverse_points(
    coords: np.ndarray, src_spacing: tuple[float, ...], grid: Grid, pts_mm: np.ndarray
) -> np.ndarray:
    """Target mm of source points (mm from the scan's voxel 0), inverting the smooth warp
    ``coords`` (source voxel index ``k, j, i`` of every target voxel) by fixed-point steps."""
    pts = np.atleast_2d(pts_mm)
    want = pts[:, ::-1] / np.asarray(src_spacing)[::-1]  # source k, j, i
    gain = np.asarray(src_spacing)[::-1] / np.asarray(grid.spacing)[::-1]
    shape = np.asarray(grid.shape)
    q = np.tile((shape - 1) / 2.0, (len(pts), 1))
    for _ in range(25):
        got = np.stack(
            [ndimage.map_coordinates(c, q.T, order=1, mode="nearest") for c in coords], axis=1
        )
        q = q + (want - got) * gain
    return grid.to_mm(q)


def warp_anatomy(
    src: SourceAnatomy, coords: np.ndarray, src_spacing: tuple[float, ...], grid: Grid
) -> Anatomy:
    """Map labels (nearest neighbour) and points of ``src`` onto ``grid`` through ``coords``."""
    mm = coords * np.asarray(src_spacing)[::-1].reshape(3, 1, 1, 1)  # source z, y, x mm
    idx = (mm - np.asarray(src.grid.origin)[::-1].reshape(3, 1, 1, 1)) / np.asarray(
        src.grid.spacing
    )[::-1].reshape(3, 1, 1, 1)
    labels = ndimage.map_coordinates(src.labels, idx, order=0, mode="constant", cval=0)
    names = list(src.points)
    points = {}
    if names:
        warped = _inverse_points(
            coords, src_spacing, grid, np.array([src.points[n] for n in names])
        )
        points = {n: p for n, p in zip(names, warped, strict=True)}
    paths = {}
    for name, path in src.paths.items():
        if name.endswith("_radius"):
            paths[name] = path.copy()
        else:
            paths[name] = _inverse_points(coords, src_spacing, grid, path)
    return Anatomy(labels.astype(np.uint8), points, paths, dict(src.stats))
