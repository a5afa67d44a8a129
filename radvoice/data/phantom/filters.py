"""Gaussian smoothing that gives exactly the bits of ``scipy.ndimage.gaussian_filter``.

scipy filters one line at a time through double buffers; for the short kernels of the phantom
(3-9 taps) whole-array numpy arithmetic in the same order (double accumulation, centre tap
first, then tap pairs from the outside in, rounding to the array's dtype after each axis) is
3-4x faster and bit-identical. Modes ``reflect`` and ``constant`` (zero) are handled here;
anything else (other modes, kernels longer than an axis) goes to scipy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

CHUNK = 1 << 15  # elements per slab (256 KiB of doubles: stays in cache)


def _kernel(sigma: float, truncate: float) -> np.ndarray:
    """scipy's ``_gaussian_kernel1d(sigma, 0, radius)`` (symmetric, so also its reverse)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


def _correlate(a: np.ndarray, w: np.ndarray, axis: int, mode: str) -> np.ndarray:
    r = len(w) // 2
    src = np.moveaxis(a, axis, 0)
    out = np.empty(src.shape, a.dtype)
    n, rows = src.shape[0], max(1, src.shape[1])
    step = max(1, CHUNK // max(1, src[:, :1].size))  # slabs that stay in cache
    buf = np.zeros((n + 2 * r, min(step, rows), *src.shape[2:]))  # zero edges: mode constant
    for lo in range(0, rows, step):
        x = buf[:, : min(step, rows - lo)]
        x[r : r + n] = src[:, lo : lo + step]
        if mode == "reflect" and r:  # d c b a | a b c d | d c b a
            x[:r] = x[r : 2 * r][::-1]
            x[r + n :] = x[n : n + r][::-1]
        acc = x[r : r + n] * w[r]
        for j in range(r, 0, -1):
            acc += (x[r - j : r - j + n] + x[r + j : r + j + n]) * w[r - j]
        out[:, lo : lo + step] = acc
    return np.moveaxis(out, 0, axis)


def gaussian_filter(
    a: np.ndarray,
    sigma: float | Sequence[float],
    truncate: float = 4.0,
    mode: str = "reflect",
) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(a, sigma, mode=mode, truncate=truncate)``, same bits."""
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=float), (a.ndim,))
    radii = [int(truncate * float(s) + 0.5) for s in sigmas]
    if (
        a.dtype != np.float32
        or a.ndim < 2
        or mode not in ("reflect", "constant")
        or any(r >= n for r, n in zip(radii, a.shape, strict=True))
    ):
        return ndimage.gaussian_filter(a, sigma, mode=mode, truncate=truncate)
    out = a
    for axis, s in enumerate(sigmas):
        if s > 1e-15:
            out = _correlate(out, _kernel(float(s), truncate), axis, mode)
    return out if out is not a else a.copy()
