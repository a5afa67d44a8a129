"""What a folder scan finds: series and the per-file header facts the reader needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class SliceHeader:
    """What the reader needs from one file, taken from its header."""

    path: Path
    series_uid: str
    instance: int
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slope: float
    intercept: float
    bits_allocated: int
    bits_stored: int
    signed: bool
    samples: int
    frames: int
    transfer_syntax: str
    thickness: float | None = None
    pixel_offset: int | None = None
    """Where the PixelData element starts in the file (for a direct read), if known."""
    frame: int | None = None
    """The frame index within a multi-frame file, None for a single-frame file."""


@dataclass
class SeriesInfo:
    """One series found in a folder (or one image file)."""

    uid: str
    description: str
    n_slices: int
    shape: tuple[int, int, int]
    """``(n_slices, rows, columns)``; for mixed sizes, the most common in-plane size."""
    modality: str
    files: list[Path] = field(repr=False)
    series_number: int | None = None
    study_uid: str = ""
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    slices: list[SliceHeader] = field(default_factory=list, repr=False)
    refusal: str | None = None
    """What the series is when it is not a CT volume (e.g. "a CR projection radiograph
    (Computed Radiography Image Storage)"); None for a CT volume."""

    @property
    def n_voxels(self) -> int:
        nz, ny, nx = self.shape
        return nz * ny * nx
