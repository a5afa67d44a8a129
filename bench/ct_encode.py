"""Time to embed one CT volume (resampling to the model grid + CT encoder), measured in one run.

The budget is 1 s per volume on the 2-core CPU (``torch.set_num_threads(2)``). For each encoder
(the default config's architecture with fresh weights, the CPU-run config, and the shipped
``models/teacher`` when present) the script prints the median of ``--repeats`` runs for
resampling and encoding separately, and their sum as a ratio to the budget (≤ 1 meets it).

    .venv/bin/python bench/ct_encode.py [--volume PATH] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 1.0


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--volume", default=str(REPO.parent / "shared" / "data" / "ct" / "lung1_image.nrrd")
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from radvoice.imaging.reader import read_volume
    from radvoice.nn.clip import ClipDims, load_teacher
    from radvoice.nn.ct_encoder import CTEncoder
    from radvoice.nn.grid import resample_to_grid
    from radvoice.training.config import load_config

    volume = read_volume(args.volume)
    print(f"volume: {volume.describe()}; threads {args.threads}; budget {BUDGET_S:.1f} s")
    encoders = {}
    for name in ("teacher", "teacher_cpu"):
        dims = ClipDims.from_dict(load_config(name).model)
        encoders[f"config {name}"] = (CTEncoder(dims.ct).eval(), dims.grid)
    shipped = REPO / "models" / "teacher"
    if shipped.is_dir():
        bundle = load_teacher(shipped, with_text=False)
        encoders["models/teacher"] = (bundle.clip.ct_encoder.eval(), bundle.clip.dims.grid)
    for name, (enc, grid) in encoders.items():
        n_params = sum(p.numel() for p in enc.parameters()) / 1e6
        with torch.inference_mode():
            x = resample_to_grid(volume, grid)[None]
            enc(x)  # warm-up
            t_res = _median_time(lambda grid=grid: resample_to_grid(volume, grid), args.repeats)
            t_enc = _median_time(lambda enc=enc, x=x: enc(x), args.repeats)
        total = t_res + t_enc
        print(
            f"{name:18s} {n_params:5.2f} M params  resample {t_res * 1000:6.0f} ms  "
            f"encode {t_enc * 1000:6.0f} ms  total {total * 1000:6.0f} ms  "
            f"ratio to budget {total / BUDGET_S:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
