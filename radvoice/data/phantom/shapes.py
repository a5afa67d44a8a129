"""Geometric primitives rasterised on a :class:`Grid`: ellipsoids, tubes, splatted trees, noise."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from radvoice.data.phantom.filters import gaussian_filter
from radvoice.data.phantom.grid import Grid


def ellipsoid(
    grid: Grid,
    center: np.ndarray,
    radii: np.ndarray,
    axes: np.ndarray | None = None,
    box_margin: float = 1.0,
    box: tuple[slice, slice, slice] | None = None,
) -> tuple[tuple[slice, slice, slice] | None, np.ndarray]:
    """Normalised ellipsoid radius (<1 inside) on the bounding box of an ellipsoid.

    ``axes`` rows are the unit directions of the three radii (default: x, y, z).
    Returns ``(box, rho)`` where ``rho`` has the shape of the box (None box: outside).
    A given ``box`` is used as is.
    """
    center = np.asarray(center, dtype=np.float64)
    radii = np.asarray(radii, dtype=np.float64)
    axes = np.eye(3) if axes is None else np.asarray(axes, dtype=np.float64)
    if box is None:
        half = np.abs(axes.T) @ radii * box_margin
        box = grid.box(center - half, center + half)
    if box is None:
        return None, np.zeros((0, 0, 0), np.float32)
    z, y, x = grid.coords(box)
    dx, dy, dz = x - center[0], y - center[1], z - center[2]
    acc = np.zeros(np.broadcast_shapes(dz.shape, dy.shape, dx.shape), np.float32)
    for axis, r in zip(axes, radii, strict=True):
        proj = dx * axis[0] + dy * axis[1] + dz * axis[2]
        acc += (proj / r) ** 2
    return box, np.sqrt(acc)


def paint_ellipsoid(
    hu: np.ndarray,
    grid: Grid,
    center: np.ndarray,
    radii: np.ndarray,
    value: float,
    axes: np.ndarray | None = None,
    where: np.ndarray | None = None,
) -> np.ndarray:
    """Set ``value`` inside an ellipsoid (optionally only where ``where``); returns the mask."""
    mask = np.zeros(hu.shape, bool)
    box, rho = ellipsoid(grid, center, radii, axes)
    if box is None:
        return mask
    inside = rho < 1.0
    if where is not None:
        inside &= where[box]
    hu[box][inside] = value
    mask[box] = inside
    return mask


def chaikin(points: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Corner-cutting smoothing of a polyline (keeps the end points)."""
    p = np.asarray(points, dtype=float)
    for _ in range(iterations):
        q = 0.75 * p[:-1] + 0.25 * p[1:]
        r = 0.25 * p[:-1] + 0.75 * p[1:]
        mid = np.empty((2 * len(q), 3))
        mid[0::2], mid[1::2] = q, r
        p = np.vstack([p[:1], mid, p[-1:]])
    return p


def tube_distance(
    grid: Grid, points: np.ndarray, radii: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Minimum of ``distance / radius`` to a polyline with per-point radii (``< 1`` inside).

    ``out`` (float32, grid shape, initialised to a large value) is updated in place.
    """
    points = np.asarray(points, dtype=np.float64)
    radii = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(points),))
    if out is None:
        out = np.full(grid.shape, 1e6, np.float32)
    for a, b, ra, rb in zip(points[:-1], points[1:], radii[:-1], radii[1:], strict=True):
        r = max(ra, rb)
        box = grid.box(np.minimum(a, b) - r, np.maximum(a, b) + r)
        if box is None:
            continue
        z, y, x = grid.coords(box)
        ab = b - a
        denom = float(ab @ ab) or 1e-9
        t = ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / denom
        t = np.clip(t, 0.0, 1.0)
        d = np.sqrt(
            (x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (z - a[2] - t * ab[2]) ** 2
        )
        rt = ra + (rb - ra) * t
        np.minimum(out[box], (d / rt).astype(np.float32), out=out[box])
    return out


def splat_segments(
    grid: Grid,
    starts: np.ndarray,
    ends: np.ndarray,
    radii: np.ndarray,
    box: tuple[slice, slice, slice] | None = None,
) -> np.ndarray:
    """Partial-volume fraction (0..1) of tubes rasterised by splatting and Gaussian blurring.

    Each segment deposits its volume along its axis; radius classes are blurred with a
    Gaussian of about their radius, so thin vessels give faint partial-volume lines and thick
    ones solid cylinders. ``box`` limits the work to a sub-volume (the result has its shape).
    """
    box = box or (slice(0, grid.shape[0]), slice(0, grid.shape[1]), slice(0, grid.shape[2]))
    shape = tuple(s.stop - s.start for s in box)
    offset = np.array([box[0].start, box[1].start, box[2].start], float)
    out = np.zeros(shape, np.float32)
    if len(starts) == 0:
        return out
    spacing = np.asarray(grid.spacing)
    step = 0.5 * float(spacing.min())
    seg = ends - starts
    length = np.linalg.norm(seg, axis=1)
    n = np.maximum(1, np.ceil(length / step).astype(int))
    idx = np.repeat(np.arange(len(starts)), n)
    first = np.cumsum(n) - n
    frac = (np.arange(idx.size) - first[idx] + 0.5) / n[idx]
    pts = starts[idx] + seg[idx] * frac[:, None]
    vol = np.pi * radii[idx] ** 2 * (length[idx] / n[idx]) / grid.voxel_volume
    kji = np.rint(grid.to_index(pts) - offset).astype(int)
    ok = np.all((kji >= 0) & (kji < np.asarray(shape)), axis=1)
    kji, vol, rad = kji[ok], vol[ok], radii[idx][ok]
    flat = np.ravel_multi_index(kji.T, shape)
    edges = np.array([0.0, 0.6, 1.2, 2.5, 5.0, 1e9]) * float(spacing[:2].mean())
    for lo, hi in itertools.pairwise(edges):
        sel = (rad >= lo) & (rad < hi)
        if not np.any(sel):
            continue
        r_mid = float(np.median(rad[sel]))
        dep = np.bincount(flat[sel], weights=vol[sel], minlength=out.size).astype(np.float32)
        dep = dep.reshape(shape)
        sig_xyz = np.maximum(0.45, 0.62 * r_mid / spacing)
        out += gaussian_filter(dep, sig_xyz[::-1], truncate=2.5, mode="constant")
    return np.clip(out, 0.0, 1.0)


def noise_field(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    scale_mm: float,
) -> np.ndarray:
    """Smooth noise with a correlation length of about ``scale_mm`` on an anisotropic grid."""
    factor = max(1, int(round(scale_mm / (2.0 * float(min(spacing[:2]))))))
    zfac = max(1, int(round(scale_mm / (2.0 * spacing[2]))))
    coarse = (
        max(2, shape[0] // zfac + 2),
        max(2, shape[1] // factor + 2),
        max(2, shape[2] // factor + 2),
    )
    n = ndimage.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), 1.0)
    zoom = [s / c for s, c in zip(shape, coarse, strict=True)]
    up = ndimage.zoom(n, zoom, order=1, grid_mode=True, mode="nearest")
    up = _fit(up, shape)
    std = float(up.std()) or 1.0
    return ((up - up.mean()) / std).astype(np.float32)


def _fit(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    a = a[tuple(slice(0, s) for s in shape)]
    if a.shape != tuple(shape):
        a = np.pad(a, [(0, s - n) for s, n in zip(shape, a.shape, strict=True)], mode="edge")
    return a
