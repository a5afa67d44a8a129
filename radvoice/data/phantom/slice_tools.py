"""2-D slice tools for reading a CT: a disk-minus-ring circle detector, a slice-by-slice
circle tracker, a filled convex hull and rectangular windows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve
from scipy.spatial import ConvexHull, QhullError

Circle = tuple[float, int, int, float]  # (score, j, i, radius mm)


def disk(r_px: float) -> np.ndarray:
    n = int(np.ceil(r_px))
    y, x = np.mgrid[-n : n + 1, -n : n + 1]
    return x**2 + y**2 <= r_px**2


def ring(r_in: float, r_out: float) -> np.ndarray:
    n = int(np.ceil(r_out))
    y, x = np.mgrid[-n : n + 1, -n : n + 1]
    d2 = x**2 + y**2
    return (d2 > r_in**2) & (d2 <= r_out**2)


def circle_candidates(
    tissue: np.ndarray, where: np.ndarray, radii: list[float], px: float, n: int = 8
) -> list[Circle]:
    """Local maxima ``(score, j, i, r_mm)`` of a circle detector inside ``where``: mean
    tissue inside a disk minus mean tissue in a ring 1.5-5 mm outside it."""
    t = tissue.astype(np.float32)
    best = np.full(t.shape, -1.0, np.float32)
    rad = np.zeros(t.shape, np.float32)
    for r in radii:
        d, o = disk(r / px), ring((r + 1.5) / px, (r + 5.0) / px)
        s = fftconvolve(t, d / d.sum(), mode="same") - fftconvolve(t, o / o.sum(), mode="same")
        s += 0.004 * r
        upd = s > best
        best[upd], rad[upd] = s[upd], r
    s = np.where(where, best, -1.0)
    peaks = (s == ndimage.maximum_filter(s, size=max(3, int(8 / px)))) & (s > 0.2)
    j, i = np.nonzero(peaks)
    order = np.argsort(-s[j, i])[:n]
    return [(float(s[j[o], i[o]]), int(j[o]), int(i[o]), float(rad[j[o], i[o]])) for o in order]


def track(
    tissue: np.ndarray,
    window_of: Callable[[int], np.ndarray],
    ks: list[int],
    radii: list[float],
    px: float,
    max_jump: float,
    prior: tuple[float, float],
    threshold: float = 0.3,
) -> dict[int, Circle]:
    """Follow a round structure through slices ``ks`` (in order), starting from the circle
    nearest the expected ``prior`` (j, i) in the first slice; stops at a jump over
    ``max_jump`` mm or a weak circle."""
    path: dict[int, Circle] = {}
    prev, weight = prior, 0.01
    for k in ks:
        cands = circle_candidates(tissue[k], window_of(k), radii, px)
        dist = [np.hypot(c[1] - prev[0], c[2] - prev[1]) * px for c in cands]
        cands = [
            (c[0] - weight * d, *c[1:])
            for c, d in zip(cands, dist, strict=True)
            if d <= max_jump or not path
        ]
        cands.sort(key=lambda c: -c[0])
        if not cands or cands[0][0] < threshold:
            break
        path[k] = cands[0]
        prev, weight = cands[0][1:3], 0.03
    return path


def hull(mask2d: np.ndarray) -> np.ndarray:
    """Filled convex hull of a 2-D mask."""
    j, i = np.nonzero(mask2d)
    if j.size < 10:
        return mask2d.copy()
    try:
        eq = ConvexHull(np.stack([j, i], 1).astype(float)).equations
    except QhullError:
        return mask2d.copy()
    jj, ii = np.mgrid[0 : mask2d.shape[0], 0 : mask2d.shape[1]]
    inside = np.ones(mask2d.shape, bool)
    for a, b, c in eq:
        inside &= a * jj + b * ii + c <= 1e-6
    return inside


def window(shape: tuple[int, int], j0: float, j1: float, i0: float, i1: float) -> np.ndarray:
    w = np.zeros(shape, bool)
    w[max(0, int(j0)) : max(0, int(j1)), max(0, int(i0)) : max(0, int(i1))] = True
    return w
