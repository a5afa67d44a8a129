"""Training cases for the grounded CT encoder: grid volumes, finding masks and labels on disk.

Each generated case is stored once, in the model grid of the encoder (raw HU range, so every HU
window stays available), with its finding masks block-averaged to the dense output resolution
(``uint8`` fractions, one plane per present finding) and an index row (id, kind, labels, known,
report). Three kinds of case are mixed by index: phantom anatomy rendered on the model grid,
findings inserted into a real background scan (``lung1`` here; any chest CT a user has), and
phantom anatomy rendered as a clinical acquisition (random pixel spacing and slice thickness)
then resampled the way real scans are. Resumable: cases already in the index are skipped.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGY_INDEX
from radvoice.nn.grid import ModelGrid, resample_to_grid
from radvoice.training.cases import GridCache

log = logging.getLogger(__name__)

INDEX_NAME = "grounded_index.jsonl"
MASK_DIR = "masks"
MASK_GRID = ModelGrid(hu_min=0.0, hu_max=1000.0)  # a mask as 0 / 1000 "HU" → fraction


@dataclass(frozen=True)
class CaseMix:
    """Which generator makes case ``i``: a repeating pattern of kinds over the index."""

    pattern: tuple[str, ...] = ("phantom", "real", "phantom", "full", "phantom", "real")
    backgrounds: tuple[str, ...] = ()
    seed: int = 0

    def kind(self, i: int) -> str:
        kind = self.pattern[i % len(self.pattern)]
        return "phantom" if kind == "real" and not self.backgrounds else kind


@dataclass
class GroundedCase:
    case_id: str
    kind: str
    labels: np.ndarray
    known: np.ndarray
    report: str
    extra: dict[str, Any] = field(default_factory=dict)


def dense_factors(grid: ModelGrid, stem_stride: tuple[int, int, int]) -> tuple[int, int, int]:
    """The dense output grid is the encoder's first stage: the grid divided by its stem."""
    d, h, w = grid.shape_zyx
    sz, sy, sx = stem_stride
    if d % sz or h % sy or w % sx:
        raise ValueError(f"grid {grid.shape_zyx} is not divisible by the stem {stem_stride}")
    return (sz, sy, sx)


def mask_on_grid(
    mask: np.ndarray, volume: Volume, grid: ModelGrid, factors: tuple[int, int, int]
) -> np.ndarray:
    """A boolean mask on ``volume``'s voxels → its fraction per dense cell, float32 ``(d, h, w)``.

    The mask goes through exactly the resampling its volume takes (:func:`resample_to_grid`),
    then a block mean by the stem ``factors``."""
    mvol = Volume(
        array=(mask.astype(np.int16) * 1000),
        spacing=volume.spacing,
        origin=volume.origin,
        direction=volume.direction,
    )
    mgrid = ModelGrid(size=grid.size, spacing=grid.spacing, hu_min=0.0, hu_max=1000.0)
    frac = (resample_to_grid(mvol, mgrid) + 1.0) / 2.0  # (1, D, H, W) in [0, 1]
    pooled = F.avg_pool3d(frac[None], kernel_size=factors, stride=factors)[0, 0]
    return pooled.clamp_(0, 1).numpy()


def _generate(i: int, mix: CaseMix) -> Any:
    from radvoice.data.synth import generate_case

    kind = mix.kind(i)
    if kind == "real":
        bg = mix.backgrounds[(i // len(mix.pattern)) % len(mix.backgrounds)]
        return kind, generate_case(mix.seed, i, real_background=bg)
    if kind == "full":
        return kind, generate_case(mix.seed, i, resolution="full")
    return kind, generate_case(mix.seed, i)


class _Worker:
    cache: GridCache
    grid: ModelGrid
    folder: Path
    mix: CaseMix
    factors: tuple[int, int, int]


_w = _Worker()


def _init(folder: str, grid: ModelGrid, mix: CaseMix, factors: tuple[int, int, int]) -> None:
    torch.set_num_threads(1)
    _w.folder, _w.grid, _w.mix, _w.factors = Path(folder), grid, mix, factors
    _w.cache = GridCache(Path(folder), grid)
    (Path(folder) / MASK_DIR).mkdir(parents=True, exist_ok=True)


def _one(i: int) -> dict[str, Any]:
    from radvoice.training.sources import _report_of

    kind, case = _generate(i, _w.mix)
    case_id = case.case_id
    _w.cache.put(case_id, case.volume)
    planes = {}
    for name, mask in case.masks.items():
        if mask.any():
            frac = mask_on_grid(mask, case.volume, _w.grid, _w.factors)
            planes[str(PATHOLOGY_INDEX[name])] = np.round(frac * 255).astype(np.uint8)
    mpath = _w.folder / MASK_DIR / f"{case_id}.npz"
    tmp = mpath.with_name(mpath.stem + ".tmp.npz")
    np.savez_compressed(tmp, **planes)
    tmp.replace(mpath)
    return {
        "index": i,
        "case_id": case_id,
        "kind": kind,
        "labels": [int(v) for v in case.labels],
        "known": [bool(v) for v in case.known],
        "report": _report_of(case),
    }


def read_index(folder: Path) -> list[GroundedCase]:
    """The cases generated so far (a torn last line from a killed run is ignored)."""
    path = Path(folder) / INDEX_NAME
    out: list[GroundedCase] = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(
            GroundedCase(
                case_id=row["case_id"],
                kind=row["kind"],
                labels=np.asarray(row["labels"], np.int64),
                known=np.asarray(row["known"], bool),
                report=row["report"],
                extra={"index": row["index"]},
            )
        )
    return out


def load_masks(folder: Path, case_id: str, shape: tuple[int, int, int]) -> np.ndarray:
    """``(18, d, h, w)`` float32 fractions (zeros where a finding has no mask)."""
    out = np.zeros((NUM_PATHOLOGIES, *shape), np.float32)
    with np.load(Path(folder) / MASK_DIR / f"{case_id}.npz") as z:
        for key in z.files:
            out[int(key)] = z[key].astype(np.float32) / 255.0
    return out


def prefill(
    folder: Path,
    n: int,
    grid: ModelGrid,
    stem_stride: tuple[int, int, int],
    mix: CaseMix,
    workers: int = 1,
) -> int:
    """Generate the missing cases ``0..n-1`` into ``folder``; returns how many were made."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    have = {c.extra["index"] for c in read_index(folder)}
    todo = [i for i in range(n) if i not in have]
    if not todo:
        return 0
    factors = dense_factors(grid, stem_stride)
    log.info(f"generating {len(todo)} grounded cases with {workers} worker(s)")
    ctx = mp.get_context("spawn")
    done = 0
    initargs = (str(folder), grid, mix, factors)
    with (
        ctx.Pool(workers, initializer=_init, initargs=initargs) as pool,
        open(folder / INDEX_NAME, "a", encoding="utf-8") as fh,
    ):
        for row in pool.imap_unordered(_one, todo, chunksize=2):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            done += 1
            if done % 100 == 0:
                log.info(f"generated {done}/{len(todo)} grounded cases")
    return done
