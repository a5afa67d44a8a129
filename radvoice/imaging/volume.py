"""The one volume type every part of RadVoice exchanges.

Conventions (the same as ITK/SimpleITK, so conversions are copies, not reinterpretations):

* ``array`` is int16 Hounsfield units with shape ``(nz, ny, nx)``: ``array[k, j, i]`` is the voxel
  at column ``i``, row ``j``, slice ``k``.
* ``spacing`` is ``(sx, sy, sz)`` in mm, i.e. along ``i``, ``j``, ``k``.
* ``origin`` is the LPS patient position (mm) of voxel ``(i, j, k) = (0, 0, 0)``.
* ``direction`` is a 3x3 matrix whose *columns* are the LPS unit vectors of the ``i``, ``j``, ``k``
  axes. Patient LPS: +x towards the patient's Left, +y Posterior, +z Superior (head).

  ``lps = origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass
class Volume:
    """A CT volume in Hounsfield units with its geometry and (non-pixel) metadata."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = "CT"
    meta: dict[str, Any] = field(default_factory=dict)
    """Patient/study/series information, e.g. PatientName, PatientID, StudyDate,
    StudyDescription, SeriesDescription, SeriesInstanceUID, WindowCenter, WindowWidth."""
    warnings: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise ValueError(f"a Volume needs a 3-D array, got shape {arr.shape}")
        if arr.dtype != np.int16:
            arr = np.clip(np.rint(arr), -32768, 32767).astype(np.int16)
        self.array = arr
        self.spacing = tuple(float(s) for s in self.spacing)  # type: ignore[assignment]
        self.origin = tuple(float(o) for o in self.origin)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if any(s <= 0 for s in self.spacing):
            raise ValueError(f"spacing must be positive, got {self.spacing}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``."""
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def size_xyz(self) -> tuple[int, int, int]:
        """``(nx, ny, nz)``, the ITK order."""
        nz, ny, nx = self.array.shape
        return nx, ny, nz

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Physical size along i, j, k in mm."""
        return tuple(n * s for n, s in zip(self.size_xyz, self.spacing, strict=True))  # type: ignore[return-value]

    def index_to_lps(self, ijk: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Continuous voxel index (i, j, k) -> LPS mm. Accepts ``(..., 3)`` arrays."""
        ijk = np.asarray(ijk, dtype=float)
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self.direction.T

    def lps_to_index(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS mm -> continuous voxel index (i, j, k). Accepts ``(..., 3)`` arrays."""
        lps = np.asarray(lps, dtype=float)
        rel = (lps - np.asarray(self.origin)) @ np.linalg.inv(self.direction).T
        return rel / np.asarray(self.spacing)

    def hu_at(self, i: int, j: int, k: int) -> int | None:
        """HU at an integer voxel index, or None outside the volume."""
        nz, ny, nx = self.array.shape
        if 0 <= i < nx and 0 <= j < ny and 0 <= k < nz:
            return int(self.array[k, j, i])
        return None

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def default_window(self) -> tuple[float, float] | None:
        """(width, level) from the header (DICOM WindowWidth/WindowCenter), if any."""
        w, c = self.meta.get("WindowWidth"), self.meta.get("WindowCenter")
        if w is None or c is None:
            return None
        try:
            return float(w), float(c)
        except (TypeError, ValueError):
            return None

    def with_array(self, array: np.ndarray) -> Volume:
        """Same geometry and metadata, new voxels (same shape)."""
        if array.shape != self.array.shape:
            raise ValueError("with_array keeps the shape")
        return replace(self, array=array, meta=dict(self.meta), warnings=list(self.warnings))

    def describe(self) -> str:
        """One line for logs: no patient-identifying fields."""
        nx, ny, nz = self.size_xyz
        sx, sy, sz = self.spacing
        return f"{self.modality} {nx}x{ny}x{nz} @ {sx:.3f}x{sy:.3f}x{sz:.3f} mm"
