"""The fixed model grid every CT goes through before the CT encoder.

The grid (defaults, see :class:`ModelGrid`):

* canonical orientation LPS: array axes ``(k, j, i)`` run Inferior→Superior, Anterior→Posterior,
  Right→Left (direction = identity). Any input is first re-oriented to it by axis permutation and
  flips (exact, no interpolation); a small residual obliquity (gantry tilt) is ignored.
* size ``(nx, ny, nz) = (128, 128, 64)`` at spacing ``(2.8, 2.8, 5.0)`` mm: a 358 mm × 358 mm
  in-plane field of view (a chest CT's 300–400 mm FOV) and 320 mm cranio-caudally, centred on the
  centre of the scanned volume; outside the scan is air (-1000 HU).
* intensities: HU clipped to [-1000, 1000] and scaled to [-1, 1] (as CT-CLIP does).
* resampling: block-mean anti-aliasing by the integer part of the down-sampling factor, then
  trilinear interpolation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume

HU_MIN = -1000.0
HU_MAX = 1000.0


class GridError(RadVoiceError):
    """A volume cannot be placed on the model grid."""


@dataclass(frozen=True)
class ModelGrid:
    """Geometry of the model grid: ``size`` and ``spacing`` are in (x, y, z) = (i, j, k) order."""

    size: tuple[int, int, int] = (128, 128, 64)
    spacing: tuple[float, float, float] = (2.8, 2.8, 5.0)
    hu_min: float = HU_MIN
    hu_max: float = HU_MAX

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """Tensor shape ``(D, H, W)`` = ``(nz, ny, nx)``."""
        return (self.size[2], self.size[1], self.size[0])

    @property
    def fov_mm(self) -> tuple[float, float, float]:
        return tuple(n * s for n, s in zip(self.size, self.spacing, strict=True))  # type: ignore[return-value]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelGrid:
        return cls(
            size=tuple(int(v) for v in d["size"]),  # type: ignore[arg-type]
            spacing=tuple(float(v) for v in d["spacing"]),  # type: ignore[arg-type]
            hu_min=float(d.get("hu_min", HU_MIN)),
            hu_max=float(d.get("hu_max", HU_MAX)),
        )


def to_canonical(volume: Volume) -> Volume:
    """Re-orient to LPS (direction ≈ identity) by permuting and flipping axes; no interpolation.

    The world position of every voxel is unchanged.
    """
    d = np.asarray(volume.direction, dtype=float)
    if not np.all(np.isfinite(d)) or abs(np.linalg.det(d)) < 1e-6:
        raise GridError(f"volume has a degenerate direction matrix: {volume.describe()}")
    # For each world axis x, y, z: the volume axis (i, j, k) most aligned with it.
    axis_for_world = [int(np.argmax(np.abs(d[w, :]))) for w in range(3)]
    if sorted(axis_for_world) != [0, 1, 2]:
        raise GridError(f"volume is too oblique to re-orient: {volume.describe()}")
    signs = [float(np.sign(d[w, axis_for_world[w]])) for w in range(3)]
    arr = volume.array  # (k, j, i)
    # numpy axis of volume axis a (i=0, j=1, k=2) is 2 - a.
    arr = np.transpose(arr, [2 - axis_for_world[2 - n] for n in range(3)])
    spacing = tuple(volume.spacing[a] for a in axis_for_world)
    new_dir = d[:, axis_for_world] * np.asarray(signs)[None, :]
    origin = np.asarray(volume.origin, dtype=float)
    flips = []
    for w in range(3):
        if signs[w] < 0:
            n = arr.shape[2 - w]
            # the last voxel along this axis becomes the first one
            origin = origin + d[:, axis_for_world[w]] * spacing[w] * (n - 1)
            flips.append(2 - w)
    if flips:
        arr = np.flip(arr, axis=flips)
    return Volume(
        array=arr,
        spacing=spacing,  # type: ignore[arg-type]
        origin=tuple(origin),  # type: ignore[arg-type]
        direction=new_dir,
        modality=volume.modality,
        meta=volume.meta,
        source=volume.source,
    )


def normalize_hu(hu: torch.Tensor | np.ndarray, grid: ModelGrid = ModelGrid()) -> torch.Tensor:
    """HU → [-1, 1] after clipping to ``[hu_min, hu_max]``."""
    t = torch.as_tensor(hu, dtype=torch.float32)
    t = t.clamp(grid.hu_min, grid.hu_max)
    return (t - grid.hu_min) / (grid.hu_max - grid.hu_min) * 2.0 - 1.0


SLAB_BYTES = 32 * 2**20  # float32 working set per slab of _normalised_pooled


def _normalised_pooled(src: np.ndarray, grid: ModelGrid, k: tuple[int, int, int]) -> torch.Tensor:
    """``(1, 1, D', H', W')``: HU clamped to the grid's window and scaled to [0, 1] (air = 0, so
    zero padding = air), block-mean pooled by ``k = (kz, ky, kx)``.

    Done a slab of whole pooling blocks along z at a time: the same values as on the whole
    volume at once, without a float32 copy of it (a 512×512×600 CT would need 630 MB)."""
    kz, ky, kx = k
    slice_bytes = 4 * src.shape[1] * src.shape[2]
    step = kz * max(1, SLAB_BYTES // (slice_bytes * kz))
    n = src.shape[0] - src.shape[0] % kz  # avg_pool3d (ceil_mode=False) drops the remainder
    parts = []
    for z0 in range(0, n, step):
        t = torch.from_numpy(np.ascontiguousarray(src[z0 : min(z0 + step, n)])).to(torch.float32)
        t = t.clamp_(grid.hu_min, grid.hu_max).sub_(grid.hu_min)
        t = t.mul_(1.0 / (grid.hu_max - grid.hu_min))[None, None]
        if kx * ky * kz > 1:
            t = F.avg_pool3d(t, kernel_size=(kz, ky, kx), stride=(kz, ky, kx), ceil_mode=False)
        parts.append(t)
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def resample_to_grid(volume: Volume, grid: ModelGrid = ModelGrid()) -> torch.Tensor:
    """A :class:`Volume` → float32 tensor ``(1, D, H, W)`` on the model grid, values in [-1, 1]."""
    canon = to_canonical(volume)
    src = canon.array  # a view: no full-size copy (see _normalised_pooled)
    if min(src.shape) < 1:
        raise GridError(f"empty volume: {volume.describe()}")
    sp = np.asarray(canon.spacing, dtype=float)  # (sx, sy, sz)
    # block-mean anti-aliasing by the integer down-sampling factor per axis
    factor = np.maximum(1, np.floor(np.asarray(grid.spacing) / sp)).astype(int)
    factor = np.minimum(factor, np.asarray(canon.size_xyz))
    t = _normalised_pooled(src, grid, (int(factor[2]), int(factor[1]), int(factor[0])))
    pooled_sp = sp * factor
    nx, ny, nz = (t.shape[4], t.shape[3], t.shape[2])
    # pooled voxel (0,0,0) centre in the canonical frame (mm from canonical origin)
    first = (factor - 1) / 2.0 * sp
    # centre of the scanned volume in the canonical frame
    center = (np.asarray(canon.size_xyz) - 1) / 2.0 * sp
    # output grid sample positions (mm) → pooled continuous indices → [-1, 1]
    axes = []
    for a, n_src in enumerate((nx, ny, nz)):
        n_out = grid.size[a]
        pos = center[a] + (np.arange(n_out) - (n_out - 1) / 2.0) * grid.spacing[a]
        idx = (pos - first[a]) / pooled_sp[a]
        norm = (2.0 * idx + 1.0) / n_src - 1.0  # align_corners=False convention
        axes.append(torch.as_tensor(norm, dtype=torch.float32))
    gz, gy, gx = torch.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    coords = torch.stack((gx, gy, gz), dim=-1)[None]
    out = F.grid_sample(t, coords, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].mul_(2.0).sub_(1.0)
