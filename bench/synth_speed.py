"""Synthetic chest CT generator speed: volumes/s at the model grid and at full resolution,
with 1 and 2 worker processes (all measured in this run; prints ratios, asserts nothing).

    .venv/bin/python bench/synth_speed.py [--n 8] [--full-n 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

from radvoice.data.synth import generate_case


def _one(args: tuple[int, str]) -> tuple[int, ...]:
    index, resolution = args
    case = generate_case(1234, index, resolution=resolution)
    return case.volume.shape


def rate(n: int, resolution: str, workers: int) -> tuple[float, tuple[int, ...]]:
    jobs = [(i, resolution) for i in range(n)]
    t0 = time.perf_counter()
    if workers == 1:
        shapes = [_one(j) for j in jobs]
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            shapes = pool.map(_one, jobs, chunksize=1)
    return n / (time.perf_counter() - t0), shapes[-1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--full-n", type=int, default=2)
    args = ap.parse_args()
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
    _one((10_000, "model"))  # warm-up (imports, caches)
    m1, shape = rate(args.n, "model", 1)
    m2, _ = rate(args.n, "model", 2)
    print(
        f"model grid {shape}: {m1:.2f} vol/s (1 worker), {m2:.2f} vol/s (2 workers), speed-up {m2 / m1:.2f}x"
    )
    f1, fshape = rate(args.full_n, "full", 1)
    f2, _ = rate(args.full_n * 2, "full", 2)
    print(
        f"full res (last {fshape}): {f1:.3f} vol/s (1 worker), {f2:.3f} vol/s (2 workers), speed-up {f2 / f1:.2f}x"
    )
    print(f"model/full ratio (1 worker): {m1 / f1:.1f}x")


if __name__ == "__main__":
    main()
