"""Axial and coronal thumbnails (PNG bytes) at a lung window, with the true aspect ratio."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from radvoice.imaging.volume import Volume

LUNG_WINDOW = (1500.0, -600.0)  # width, level (HU)
THUMB_SIZE = 128


def _window(slice_hu: np.ndarray, width: float, level: float) -> np.ndarray:
    low = level - width / 2.0
    scaled = (slice_hu.astype(np.float32) - low) * (255.0 / width)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _png(gray: np.ndarray, aspect_w_over_h: float, size: int) -> bytes:
    """Resize so the longer side is ``size`` px, honouring the physical aspect ratio."""
    if aspect_w_over_h >= 1.0:
        w, h = size, max(1, round(size / aspect_w_over_h))
    else:
        w, h = max(1, round(size * aspect_w_over_h)), size
    image = Image.fromarray(np.ascontiguousarray(gray)).resize((w, h), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def make_thumbnails(
    volume: Volume, size: int = THUMB_SIZE, window: tuple[float, float] = LUNG_WINDOW
) -> tuple[bytes, bytes]:
    """``(axial, coronal)`` PNGs through the volume's centre.

    Axial: rows are ``j`` (anterior at the top for the usual LPS axes), columns ``i``. Coronal:
    superior at the top.
    """
    arr = volume.array
    nz, ny, nx = arr.shape
    sx, sy, sz = volume.spacing
    axial = _window(arr[nz // 2], *window)
    coronal = _window(arr[:, ny // 2, :], *window)
    if volume.direction[2, 2] >= 0:  # k runs towards the head: put the head at the top
        coronal = coronal[::-1]
    return (
        _png(axial, (nx * sx) / (ny * sy), size),
        _png(np.ascontiguousarray(coronal), (nx * sx) / (nz * sz), size),
    )
