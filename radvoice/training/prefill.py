"""Generate ``--data synthetic:N`` cases in parallel before training.

Each worker process generates cases, resamples them once into the grid cache and returns the
index row (id, report, labels) that :func:`radvoice.training.sources.synthetic_records` reads on
start, so the training process itself never waits for the generator. Resumable: cases already
in the index are skipped.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from pathlib import Path
from typing import Any

from radvoice.nn.grid import ModelGrid
from radvoice.training.cases import GridCache
from radvoice.training.sources import read_synthetic_index

log = logging.getLogger(__name__)

INDEX_NAME = "synthetic_index.jsonl"

_cache: GridCache | None = None


def _init(cache_dir: str, grid: ModelGrid) -> None:
    global _cache
    import torch

    torch.set_num_threads(1)
    _cache = GridCache(Path(cache_dir), grid)


def _one(job: tuple[int, int]) -> dict[str, Any]:
    from radvoice.data.synth import generate_case
    from radvoice.training.sources import _from_synthetic_case

    seed, i = job
    case = generate_case(seed, i)
    case_id = str(getattr(case, "case_id", f"syn_{seed}_{i:06d}"))
    rec = _from_synthetic_case(case, case_id, None)
    assert _cache is not None
    _cache.put(case_id, case.volume)
    return {
        "seed": seed,
        "index": i,
        "case_id": case_id,
        "report": rec.report,
        "labels": rec.labels.tolist(),
    }


def prefill_synthetic(
    n: int, seed: int, cache_dir: Path, grid: ModelGrid, workers: int, progress: bool = True
) -> int:
    """Generate the missing cases ``0..n-1`` of ``seed`` with ``workers`` processes; returns how
    many were generated."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    index_file = cache_dir / INDEX_NAME
    known = read_synthetic_index(index_file, seed)
    todo = [(seed, i) for i in range(n) if i not in known]
    if not todo:
        return 0
    log.info(f"generating {len(todo)} synthetic cases with {workers} worker(s)")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="synthetic cases", leave=False)
    ctx = mp.get_context("spawn")
    done = 0
    with (
        ctx.Pool(workers, initializer=_init, initargs=(str(cache_dir), grid)) as pool,
        open(index_file, "a", encoding="utf-8") as fh,
    ):
        for row in pool.imap_unordered(_one, todo, chunksize=4):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            done += 1
            if bar is not None:
                bar.update(1)
            elif done % 250 == 0:
                log.info(f"generated {done}/{len(todo)} synthetic cases")
    if bar is not None:
        bar.close()
    return done
