"""Maps computed on the model grid, brought back onto a volume's own voxels.

:func:`radvoice.nn.grid.resample_to_grid` centres the model grid on the scanned volume in its
canonical (LPS) orientation; :func:`grid_to_volume` is its inverse for a map: each voxel of the
volume takes the trilinear value of the grid map at its position (zero outside the grid), in the
volume's own array order. The grid is axis-aligned with the canonical volume, so the
interpolation is separable: three small interpolation matrices instead of a 3-D sampler.
"""

from __future__ import annotations

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.nn.grid import GridError, ModelGrid


def _canonical_axes(volume: Volume) -> tuple[list[int], list[float]]:
    d = np.asarray(volume.direction, dtype=float)
    axis_for_world = [int(np.argmax(np.abs(d[w, :]))) for w in range(3)]
    if sorted(axis_for_world) != [0, 1, 2]:
        raise GridError(f"volume is too oblique to re-orient: {volume.describe()}")
    signs = [float(np.sign(d[w, axis_for_world[w]])) for w in range(3)]
    return axis_for_world, signs


def interpolation_matrix(n_out: int, n_grid: int, positions: np.ndarray) -> np.ndarray:
    """``(n_out, n_grid)`` linear-interpolation weights of continuous grid ``positions``
    (voxel units); rows of points outside ``[-0.5, n_grid - 0.5]`` are zero."""
    m = np.zeros((n_out, n_grid), np.float32)
    inside = (positions >= -0.5) & (positions <= n_grid - 0.5)
    p = np.clip(positions, 0, n_grid - 1)
    lo = np.floor(p).astype(int)
    hi = np.minimum(lo + 1, n_grid - 1)
    w = (p - lo).astype(np.float32)
    rows = np.arange(n_out)[inside]
    m[rows, lo[inside]] += 1 - w[inside]
    m[rows, hi[inside]] += w[inside]
    return m


def grid_to_volume(grid_map: np.ndarray, volume: Volume, grid: ModelGrid) -> np.ndarray:
    """A ``(D, H, W)`` map on ``grid`` (or a coarser map covering the same field of view) →
    float32 in ``volume.array``'s shape and order."""
    gmap = np.asarray(grid_map, dtype=np.float32)
    axis_for_world, signs = _canonical_axes(volume)
    size_xyz = volume.array.shape[::-1]  # (ni, nj, nk)
    n_world = [size_xyz[a] for a in axis_for_world]  # canonical sizes along x, y, z
    sp_world = [float(volume.spacing[a]) for a in axis_for_world]
    mats = []
    for w in range(3):
        n_g = gmap.shape[2 - w]
        g_sp = grid.fov_mm[w] / n_g  # a coarser map covers the same field of view
        pos = (np.arange(n_world[w]) - (n_world[w] - 1) / 2.0) * sp_world[w]  # mm from centre
        idx = pos / g_sp + (n_g - 1) / 2.0
        mats.append(interpolation_matrix(n_world[w], n_g, idx))
    mx, my, mz = mats
    d, h, w = gmap.shape
    canon = (mz @ gmap.reshape(d, h * w)).reshape(-1, h, w)
    canon = np.matmul(my, canon)  # (nz, ny, W)
    canon = np.matmul(canon, mx.T)  # (nz, ny, nx) canonical array order
    # undo to_canonical: flips along world axes with a negative sign, then the permutation
    for w in range(3):
        if signs[w] < 0:
            canon = np.flip(canon, axis=2 - w)
    # canonical numpy axis (2 - w) holds volume axis axis_for_world[w] (numpy axis 2 - a)
    order = [0, 0, 0]
    for w in range(3):
        order[2 - axis_for_world[w]] = 2 - w
    return np.ascontiguousarray(np.transpose(canon, order), dtype=np.float32)


def argmax_index(values: np.ndarray) -> tuple[int, int, int]:
    """``(k, j, i)`` of the largest value (the first one on ties)."""
    flat = int(np.argmax(values))
    k, j, i = np.unravel_index(flat, values.shape)
    return int(k), int(j), int(i)
