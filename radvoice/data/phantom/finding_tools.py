"""Shared helpers for painting findings: results, blobs, sides and lobes of a mask."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radvoice.data.phantom.context import LOBE_NAMES, Chest
from radvoice.data.phantom.filters import gaussian_filter
from radvoice.data.phantom.grid import Grid


@dataclass
class FindingResult:
    """Where a finding was painted (``mask``) and how to describe it (``attrs``)."""

    mask: np.ndarray
    attrs: dict[str, Any] = field(default_factory=dict)


def splat_spheres(grid: Grid, centers: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Soft union (0..1) of spheres, by depositing their volumes and blurring (fast for many)."""
    out = np.zeros(grid.shape, np.float32)
    if len(centers) == 0:
        return out
    spacing = np.asarray(grid.spacing)
    kji = np.rint(grid.to_index(centers)).astype(int)
    ok = np.all((kji >= 0) & (kji < np.asarray(grid.shape)), axis=1)
    kji, radii = kji[ok], np.asarray(radii)[ok]
    if not len(radii):
        return out
    vol = 4.0 / 3.0 * np.pi * radii**3 / grid.voxel_volume
    pad = np.ceil(1.5 * float(radii.max()) / spacing[::-1]).astype(int) + 1
    lo = np.maximum(kji.min(axis=0) - pad, 0)
    hi = np.minimum(kji.max(axis=0) + pad + 1, np.asarray(grid.shape))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    shape = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    kji = kji - lo
    flat = np.ravel_multi_index(kji.T, shape)
    sub = np.zeros(shape, np.float32)
    edges = np.quantile(radii, [0.0, 0.34, 0.67, 1.0])
    edges[-1] += 1e-6
    for lo, hi in itertools.pairwise(edges):
        sel = (radii >= lo) & (radii < hi)
        if not np.any(sel):
            continue
        r = float(np.median(radii[sel]))
        dep = np.bincount(flat[sel], weights=vol[sel], minlength=sub.size).astype(np.float32)
        sig = np.maximum(0.5, 0.5 * r / spacing)[::-1]
        sub += gaussian_filter(dep.reshape(shape), sig, truncate=2.5, mode="constant")
    out[box] = np.clip(sub, 0.0, 1.0)
    return out


def lobulated_ball(
    grid: Grid, rng: np.random.Generator, center: np.ndarray, radius: float, irregular: float = 0.12
) -> tuple[tuple[slice, slice, slice] | None, np.ndarray]:
    """A lobulated ball: ``(box, rho)`` with ``rho < 1`` inside (radius modulated by angle)."""
    r_box = radius * (1 + 2 * irregular) + max(grid.spacing)
    box = grid.box(center - r_box, center + r_box)
    if box is None:
        return None, np.zeros((0, 0, 0), np.float32)
    z, y, x = grid.coords(box)
    dx, dy, dz = x - center[0], y - center[1], z - center[2]
    r = np.sqrt(dx**2 + dy**2 + dz**2) + 1e-6
    phi = np.arctan2(dy, dx)
    cos_t = dz / r
    k1, k2 = rng.integers(2, 5, size=2)
    p1, p2 = rng.uniform(0, 2 * np.pi, size=2)
    mod = 1 + irregular * (np.sin(k1 * phi + p1) * np.cos(k2 * np.arccos(cos_t) + p2))
    return box, (r / (radius * mod)).astype(np.float32)


def side_of(chest: Chest, mask: np.ndarray) -> str:
    """'right', 'left' or 'bilateral' from the lungs a mask touches (else from its x)."""
    r = int(np.count_nonzero(mask & (chest.lungs == 1)))
    l_ = int(np.count_nonzero(mask & (chest.lungs == 2)))
    total = r + l_
    if total == 0:
        xs = chest.grid.x[0, 0, np.nonzero(mask)[2]] if mask.any() else np.zeros(1)
        return "left" if float(np.mean(xs)) > 0 else "right"
    if r > 0.15 * total and l_ > 0.15 * total:
        return "bilateral"
    return "right" if r >= l_ else "left"


def lobes_of(
    chest: Chest, mask: np.ndarray, lobes: np.ndarray | None = None, min_frac: float = 0.12
) -> list[str]:
    """Names of the lobes holding at least ``min_frac`` of a mask's lung voxels."""
    lobes = chest.lobes if lobes is None else lobes
    codes = lobes[mask]
    codes = codes[codes > 0]
    if codes.size == 0:
        return []
    counts = np.bincount(codes, minlength=7)
    return [LOBE_NAMES[c] for c in range(1, 7) if counts[c] >= min_frac * codes.size]


def lobe_at(chest: Chest, point: np.ndarray) -> int:
    """Lobe code at an LPS point (0 outside the lungs)."""
    k, j, i = np.rint(chest.grid.to_index(point)).astype(int)
    nz, ny, nx = chest.grid.shape
    if 0 <= k < nz and 0 <= j < ny and 0 <= i < nx:
        return int(chest.lobes[k, j, i])
    return 0


def size_mm(chest: Chest, mask: np.ndarray) -> float:
    """Largest extent (mm) of a mask along x, y or z."""
    if not mask.any():
        return 0.0
    k, j, i = np.nonzero(mask)
    sx, sy, sz = chest.grid.spacing
    return float(
        max(
            (i.max() - i.min() + 1) * sx, (j.max() - j.min() + 1) * sy, (k.max() - k.min() + 1) * sz
        )
    )


def blend(hu: np.ndarray, alpha: np.ndarray, value: float | np.ndarray, where: np.ndarray) -> None:
    """``hu = hu*(1-alpha) + value*alpha`` inside ``where`` (in place)."""
    a = np.where(where, alpha, 0.0).astype(np.float32)
    hu += a * (value - hu)
