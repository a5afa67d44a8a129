"""Voxel grids in LPS millimetres, and the choice of grid for a generated case."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radvoice.errors import RadVoiceError


class GridError(RadVoiceError):
    """An impossible grid request (non-positive shape or spacing)."""


@dataclass(frozen=True)
class Grid:
    """An axis-aligned grid: ``shape`` is ``(nz, ny, nx)``, ``spacing`` ``(sx, sy, sz)`` mm.

    Coordinates are patient mm relative to the phantom centre (LPS: +x left, +y posterior,
    +z superior); ``origin`` is the LPS position of voxel (0, 0, 0).
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or min(self.shape) < 1:
            raise GridError(f"grid shape must be three positive sizes, got {self.shape}")
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise GridError(f"grid spacing must be three positive mm values, got {self.spacing}")

    @classmethod
    def centered(
        cls,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> Grid:
        """A grid whose centre lies at ``center`` (LPS mm)."""
        nz, ny, nx = shape
        sx, sy, sz = spacing
        origin = (
            center[0] - (nx - 1) * sx / 2,
            center[1] - (ny - 1) * sy / 2,
            center[2] - (nz - 1) * sz / 2,
        )
        return cls(tuple(int(s) for s in shape), tuple(float(s) for s in spacing), origin)  # type: ignore[arg-type]

    @property
    def x(self) -> np.ndarray:
        """LPS x of each column, shape ``(1, 1, nx)``."""
        return (self.origin[0] + np.arange(self.shape[2]) * self.spacing[0]).astype(np.float32)[
            None, None, :
        ]

    @property
    def y(self) -> np.ndarray:
        """LPS y of each row, shape ``(1, ny, 1)``."""
        return (self.origin[1] + np.arange(self.shape[1]) * self.spacing[1]).astype(np.float32)[
            None, :, None
        ]

    @property
    def z(self) -> np.ndarray:
        """LPS z of each slice, shape ``(nz, 1, 1)``."""
        return (self.origin[2] + np.arange(self.shape[0]) * self.spacing[2]).astype(np.float32)[
            :, None, None
        ]

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing))

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """LPS mm ``(..., 3)`` -> continuous ``(k, j, i)`` indices ``(..., 3)``."""
        p = np.asarray(points, dtype=np.float64)
        ijk = (p - np.asarray(self.origin)) / np.asarray(self.spacing)
        return ijk[..., ::-1]

    def to_mm(self, kji: np.ndarray) -> np.ndarray:
        """Continuous ``(k, j, i)`` indices -> LPS mm ``(..., 3)``."""
        ijk = np.asarray(kji, dtype=np.float64)[..., ::-1]
        return np.asarray(self.origin) + ijk * np.asarray(self.spacing)

    def box(self, lo_mm: np.ndarray, hi_mm: np.ndarray) -> tuple[slice, slice, slice] | None:
        """Index slices ``(k, j, i)`` covering an LPS box, or None if it misses the grid."""
        lo = np.floor(self.to_index(np.asarray(lo_mm))).astype(int)
        hi = np.ceil(self.to_index(np.asarray(hi_mm))).astype(int) + 1
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, np.asarray(self.shape))
        if np.any(hi <= lo):
            return None
        return slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2])

    def coords(self, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable ``(z, y, x)`` mm coordinates of a sub-box."""
        return self.z[box[0]], self.y[:, box[1]], self.x[:, :, box[2]]


def model_grid(
    shape: tuple[int, int, int] = (64, 128, 128),
    spacing: tuple[float, float, float] = (2.8, 2.8, 5.0),
) -> Grid:
    """The fixed grid a model consumes: ``shape`` (nz, ny, nx), ``spacing`` (sx, sy, sz)."""
    return Grid.centered(shape, spacing)


def random_scanner_grid(
    rng: np.random.Generator, body_width_mm: float, body_depth_mm: float
) -> tuple[Grid, float]:
    """A clinical acquisition grid: 512x512, 0.5-1 mm pixels, 1-5 mm slices.

    Returns the grid and the slice thickness (mm), which may exceed the slice spacing.
    """
    need = (max(body_width_mm, body_depth_mm) + 30.0) / 512.0
    sxy = float(rng.uniform(max(0.5, min(need, 0.95)), 1.0))
    thickness = float(rng.choice([1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0]))
    sz = thickness if rng.random() < 0.8 else thickness * 0.8
    length = float(rng.uniform(270.0, 340.0))
    nz = max(8, round(length / sz))
    center = (float(rng.normal(0, 8)), float(rng.normal(-10, 10)), float(rng.normal(10, 8)))
    return Grid.centered((nz, 512, 512), (sxy, sxy, sz), center), thickness
