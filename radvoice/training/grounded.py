"""Train the grounded CT encoder against a frozen teacher text space.

The text tower, the prompt embeddings and the query prototypes of an exported teacher
(``models/teacher``) stay exactly as they are: only the CT side is trained, so the speech
students distilled into that space stay valid and can be checked against the new CT side.
Cases come from :mod:`radvoice.training.grounded_data` (generated in the background, re-read as
they arrive). Resumable (``state.pt`` every ``checkpoint_every`` steps, loaded with
``weights_only=True``), a time budget, a ``STOP`` file, a log file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.nn.grid import ModelGrid
from radvoice.nn.grounded import GroundedDims
from radvoice.training.cases import GridCache
from radvoice.training.grounded_data import GroundedCase, load_masks, read_index
from radvoice.training.grounded_losses import GroundedLossWeights

log = logging.getLogger(__name__)


@dataclass
class GroundedRun:
    """A grounded-encoder run, read from a JSON config (unknown fields rejected)."""

    name: str = "ct_grounded"
    model: GroundedDims = field(default_factory=GroundedDims)
    grid: ModelGrid = field(default_factory=lambda: ModelGrid(hu_min=-1024.0, hu_max=3071.0))
    loss: GroundedLossWeights = field(default_factory=GroundedLossWeights)
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    max_steps: int = 1500
    max_minutes: float = 120.0
    eval_every: int = 150
    checkpoint_every: int = 25
    refresh_every: int = 50
    val_fraction: float = 0.06
    seed: int = 0
    shift_cells: list[int] = field(default_factory=lambda: [1, 2, 2])
    num_threads: int = 1

    @classmethod
    def from_json(cls, path: Path) -> GroundedRun:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        d.pop("comment", None)
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown config fields {sorted(unknown)}")
        run = cls(**{k: v for k, v in d.items() if k not in ("model", "grid", "loss")})
        run.model = GroundedDims.from_dict(d.get("model", {}))
        if "grid" in d:
            run.grid = ModelGrid.from_dict(d["grid"])
        run.loss = GroundedLossWeights(**d.get("loss", {}))
        run.model.hu_range = [run.grid.hu_min, run.grid.hu_max]
        return run

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["grid"] = self.grid.to_dict()
        return d


def is_val(case_id: str, fraction: float) -> bool:
    h = int(hashlib.sha256(f"grounded:{case_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < fraction


class Cases:
    """The generated cases on disk, split by a hash of the id, re-read as more arrive."""

    def __init__(self, folder: Path, run: GroundedRun) -> None:
        self.folder = Path(folder)
        self.run = run
        self.cache = GridCache(self.folder, run.grid)
        d, h, w = run.grid.shape_zyx
        sz, sy, sx = run.model.stem_stride
        self.dense_shape = (d // sz, h // sy, w // sx)
        self.train: list[GroundedCase] = []
        self.val: list[GroundedCase] = []
        self.refresh()

    def refresh(self) -> None:
        cases = read_index(self.folder)
        self.train = [c for c in cases if not is_val(c.case_id, self.run.val_fraction)]
        self.val = [c for c in cases if is_val(c.case_id, self.run.val_fraction)]

    def batch(self, cases: list[GroundedCase]) -> dict[str, torch.Tensor]:
        grids = torch.stack([self.cache.get(c.case_id) for c in cases])
        masks = np.stack([load_masks(self.folder, c.case_id, self.dense_shape) for c in cases])
        return {
            "grid": grids,
            "masks": torch.from_numpy(masks),
            "labels": torch.from_numpy(np.stack([c.labels for c in cases])).float(),
            "known": torch.from_numpy(np.stack([c.known for c in cases])),
        }


def augment(batch: dict[str, torch.Tensor], run: GroundedRun, g: torch.Generator) -> None:
    """In place: whole-cell shifts (masks move with the volume), HU gain/offset, scanner noise
    and a soft reconstruction kernel (blur) on part of the batch."""
    grid, masks = batch["grid"], batch["masks"]
    stem = run.model.stem_stride
    lo, hi = run.grid.hu_min, run.grid.hu_max
    hu_per_unit = (hi - lo) / 2.0
    air = 2.0 * (-1000.0 - lo) / (hi - lo) - 1.0
    for b in range(grid.shape[0]):
        cells = [int(torch.randint(-s, s + 1, (1,), generator=g)) for s in run.shift_cells]
        if any(cells):
            vox = [c * s for c, s in zip(cells, stem, strict=True)]
            grid[b] = _shift(grid[b], vox, air)
            masks[b] = _shift(masks[b], cells, 0.0)
        gain = 1.0 + 0.03 * (2 * float(torch.rand(1, generator=g)) - 1)
        offset = 15.0 * float(torch.randn(1, generator=g)) / hu_per_unit
        grid[b] = (grid[b] - air) * gain + air + offset
        if float(torch.rand(1, generator=g)) < 0.3:
            grid[b] = _blur(grid[b], 0.5 + 0.6 * float(torch.rand(1, generator=g)))
        sigma = 25.0 * float(torch.rand(1, generator=g)) / hu_per_unit
        grid[b] += sigma * torch.randn(grid[b].shape, generator=g)


def _shift(t: torch.Tensor, by: list[int], fill: float) -> torch.Tensor:
    out = torch.full_like(t, fill)
    src, dst = [slice(None)], [slice(None)]
    for s, n in zip(by, t.shape[1:], strict=True):
        src.append(slice(max(0, -s), n - max(0, s)))
        dst.append(slice(max(0, s), n - max(0, -s)))
    out[tuple(dst)] = t[tuple(src)]
    return out


def _blur(t: torch.Tensor, sigma: float) -> torch.Tensor:
    x = torch.arange(-2, 3, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    v = t[None]
    for axis in range(3):
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = 5
        pad = [0, 0, 0, 0, 0, 0]
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = 2
        v = F.conv3d(F.pad(v, pad, mode="replicate"), k.view(shape))
    return v[0]


def lr_at(step: int, run: GroundedRun) -> float:
    if step < run.warmup_steps:
        return run.lr * (step + 1) / run.warmup_steps
    frac = (step - run.warmup_steps) / max(1, run.max_steps - run.warmup_steps)
    return run.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


class ReportEmbeddings:
    """Frozen teacher embeddings of every case's report, cached on disk by case id."""

    def __init__(self, path: Path, encode) -> None:
        self.path = Path(path)
        self.encode = encode
        self.table: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as z:
                self.table = {k: z[k] for k in z.files}

    def ensure(self, cases: list[GroundedCase]) -> None:
        todo = [c for c in cases if c.case_id not in self.table]
        for i in range(0, len(todo), 32):
            chunk = todo[i : i + 32]
            with torch.inference_mode():
                emb = self.encode([c.report for c in chunk]).float().numpy()
            self.table.update({c.case_id: e for c, e in zip(chunk, emb, strict=True)})
        if todo:
            tmp = self.path.with_name(self.path.stem + ".tmp.npz")
            np.savez(tmp, **self.table)
            tmp.replace(self.path)

    def get(self, cases: list[GroundedCase]) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.table[c.case_id] for c in cases]))
