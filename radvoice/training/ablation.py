"""Teacher ablations: each loss component against its absence, at equal steps and data.

``python -m radvoice.training.ablation --config teacher_cpu2 --data synthetic --cache DIR
--steps N --out DIR [--variants full,no_disease,no_guard,siglip,no_query]`` trains one short run
per variant (same seed, cases, split and schedule; only the named switch differs), then writes
``ablation.md`` / ``ablation.json`` with each run's validation metrics.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_disease": {"disease_weight": 0.0},
    "no_guard": {"fn_guard": False},
    "siglip": {"kind": "siglip"},
    "no_query": {"query_weight": 0.0},
}
"""Loss overrides per variant (``model.loss`` fields of the run config)."""

METRICS = ("macro_auroc", "macro_weighted_f1", "r2v_R@5", "v2v_J@5")


def variant_config(base: Any, name: str, steps: int) -> Any:
    """A copy of ``base`` with the variant's loss overrides and a ``steps``-long schedule."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    cfg = copy.deepcopy(base)
    cfg.name = f"{base.name}_{name}"
    cfg.model.setdefault("loss", {}).update(VARIANTS[name])
    cfg.train.max_steps = steps
    cfg.train.warmup_steps = min(cfg.train.warmup_steps, max(steps // 10, 1))
    cfg.train.eval_every = 0
    cfg.train.max_minutes = 0
    return cfg


def _query_top1(log_text: str) -> float | None:
    marker = "final query eval: query_top1_val "
    if marker not in log_text:
        return None
    return float(log_text.split(marker)[1].split()[0])


def run_ablation(
    config: str, data: str, cache: Path, steps: int, out: Path, variants: list[str]
) -> list[dict[str, Any]]:
    from radvoice.training.config import load_config
    from radvoice.training.sources import load_records
    from radvoice.training.teacher import train_teacher

    base = load_config(config)
    records = load_records(data, base.data, seed=base.train.seed, cache_dir=cache)
    rows = []
    for name in variants:
        cfg = variant_config(base, name, steps)
        run_dir = out / name
        t0 = time.perf_counter()
        result = train_teacher(cfg, records, run_dir, cache_dir=cache, progress=False)
        assert result.eval is not None
        row = {"variant": name, "overrides": VARIANTS[name], "steps": result.step}
        row.update({k: result.eval.summary().get(k) for k in METRICS})
        row["query_top1_val"] = _query_top1((run_dir / "train.log").read_text(encoding="utf-8"))
        row["minutes"] = round((time.perf_counter() - t0) / 60, 1)
        rows.append(row)
        write_table(rows, out, base.name, steps, len(records))
    return rows


def write_table(rows: list[dict[str, Any]], out: Path, name: str, steps: int, n: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    cols = [*METRICS, "query_top1_val"]
    lines = [
        f"# Teacher ablation: {name}, {steps} steps, {n} cases (validation split)",
        "",
        "| variant | " + " | ".join(cols) + " | minutes |",
        "|---" * (len(cols) + 2) + "|",
    ]
    for r in rows:
        vals = ["—" if r.get(c) is None else f"{r[c]:.3f}" for c in cols]
        lines.append(f"| {r['variant']} | " + " | ".join(vals) + f" | {r['minutes']} |")
    (out / "ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cache", required=True, help="grid/text cache (e.g. the main run's)")
    p.add_argument("--steps", type=int, default=250)
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    rows = run_ablation(
        args.config,
        args.data,
        Path(args.cache),
        args.steps,
        Path(args.out),
        [v.strip() for v in args.variants.split(",") if v.strip()],
    )
    print((Path(args.out) / "ablation.md").read_text(encoding="utf-8"))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
