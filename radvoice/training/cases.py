"""Case records for teacher training and evaluation, and the cache of grid volumes.

A :class:`TrainingCase` is one CT study: id, report text, the 18 labels, its split and a loader of
its :class:`Volume`. Grid volumes (see :mod:`radvoice.nn.grid`) are resampled once and cached as
float16 ``.npy`` files under ``<cache>/grid_<hash>/`` so epochs cost no resampling.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES
from radvoice.nn.grid import ModelGrid, resample_to_grid


@dataclass
class TrainingCase:
    """A case as training reads it: report text, 18 labels, split and a lazy volume loader."""

    case_id: str
    report: str
    labels: np.ndarray
    split: str
    load: Callable[[], Volume]

    def __post_init__(self) -> None:
        lab = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if lab.shape[0] != NUM_PATHOLOGIES:
            raise ValueError(f"case {self.case_id}: {lab.shape[0]} labels, need {NUM_PATHOLOGIES}")
        self.labels = lab


CaseRecord = TrainingCase
"""The old name (before :class:`radvoice.data.records.CaseRecord` and the library's record made
three ``CaseRecord`` types), kept for existing imports."""


def grid_key(grid: ModelGrid) -> str:
    """Short hash of the grid geometry (numbers canonical: ``-1024`` and ``-1024.0`` agree)."""
    d = {
        "size": [int(v) for v in grid.size],
        "spacing": [float(v) for v in grid.spacing],
        "hu_min": float(grid.hu_min),
        "hu_max": float(grid.hu_max),
    }
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def _safe_name(case_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in case_id)


class GridCache:
    """Resample-once cache of grid volumes (float16 ``(D, H, W)``); ``None`` folder = in memory."""

    def __init__(self, folder: Path | None, grid: ModelGrid) -> None:
        self.grid = grid
        self.folder = Path(folder) / f"grid_{grid_key(grid)}" if folder else None
        self._memory: dict[str, np.ndarray] = {}
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, case_id: str) -> Path | None:
        return self.folder / f"{_safe_name(case_id)}.npy" if self.folder else None

    def ensure(self, record: TrainingCase) -> None:
        p = self.path(record.case_id)
        if p is None:
            if record.case_id not in self._memory:
                self._memory[record.case_id] = self._resample(record)
            return
        if not p.exists():
            self._write(p, self._resample(record))

    def put(self, case_id: str, volume: Volume) -> None:
        """Resample and store a volume already in hand (skipped when cached)."""
        p = self.path(case_id)
        if p is None:
            self._memory[case_id] = self._to_grid(volume)
        elif not p.exists():
            self._write(p, self._to_grid(volume))

    def _to_grid(self, volume: Volume) -> np.ndarray:
        return resample_to_grid(volume, self.grid)[0].numpy().astype(np.float16)

    def _resample(self, record: TrainingCase) -> np.ndarray:
        return self._to_grid(record.load())

    @staticmethod
    def _write(p: Path, arr: np.ndarray) -> None:
        tmp = p.with_name(p.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
        os.replace(tmp, p)

    def get(self, case_id: str) -> torch.Tensor:
        """``(1, D, H, W)`` float32."""
        p = self.path(case_id)
        arr = self._memory[case_id] if p is None else np.load(p, mmap_mode="r")
        return torch.from_numpy(np.asarray(arr, dtype=np.float32))[None]


def split_records(records: Sequence[TrainingCase], split: str) -> list[TrainingCase]:
    return [r for r in records if r.split == split]


def assign_splits(records: list[TrainingCase], val_fraction: float, seed: int) -> None:
    """Give records without a split a deterministic train/val split (hash of id and seed)."""
    for r in records:
        if r.split in ("train", "val", "test"):
            continue
        h = int(hashlib.sha256(f"{seed}:{r.case_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        r.split = "val" if h < val_fraction else "train"
