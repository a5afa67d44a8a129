"""Teacher ablations: each loss component against its absence, at equal steps and data.

``python -m radvoice.training.ablation --config teacher_cpu2 --data synthetic --cache DIR
--steps N --out DIR [--variants full,no_disease,no_guard,siglip,no_query] [--test-data DIR]``
trains one short run per variant (same seed, cases, split and schedule; only the named switch
differs), then writes ``ablation.md`` / ``ablation.json`` with each run's validation metrics.
With ``--test-data`` (a corpus no variant trained on) each exported teacher is also scored there,
and every variant's macro AUROC is compared with ``full`` on the same cases with a paired
bootstrap interval, so a difference can be told from noise. ``--held-out-only`` scores the
variants of an earlier run without training again.
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


def variant_config(base: Any, name: str, steps: int, seed: int | None = None) -> Any:
    """A copy of ``base`` with the variant's loss overrides and a ``steps``-long schedule
    (``seed`` replaces the training seed: initialisation and batch order, not the split)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
    cfg = copy.deepcopy(base)
    cfg.name = f"{base.name}_{name}"
    cfg.model.setdefault("loss", {}).update(VARIANTS[name])
    cfg.train.max_steps = steps
    cfg.train.warmup_steps = min(cfg.train.warmup_steps, max(steps // 10, 1))
    cfg.train.eval_every = 0
    cfg.train.max_minutes = 0
    if seed is not None:
        cfg.train.seed = seed
    return cfg


def _query_top1(log_text: str) -> float | None:
    marker = "final query eval: query_top1_val "
    if marker not in log_text:
        return None
    return float(log_text.split(marker)[1].split()[0])


def run_ablation(
    config: str,
    data: str,
    cache: Path,
    steps: int,
    out: Path,
    variants: list[str],
    seed: int | None = None,
) -> list[dict[str, Any]]:
    from radvoice.training.config import load_config
    from radvoice.training.sources import load_records
    from radvoice.training.teacher import train_teacher

    base = load_config(config)
    records = load_records(data, base.data, seed=base.train.seed, cache_dir=cache)
    rows = []
    for name in variants:
        cfg = variant_config(base, name, steps, seed)
        run_dir = out / name
        t0 = time.perf_counter()
        result = train_teacher(cfg, records, run_dir, cache_dir=cache, progress=False)
        assert result.eval is not None
        row = {"variant": name, "overrides": VARIANTS[name], "steps": result.step}
        row["seed"] = cfg.train.seed
        row["cases"] = len(records)
        row.update({k: result.eval.summary().get(k) for k in METRICS})
        row["query_top1_val"] = _query_top1((run_dir / "train.log").read_text(encoding="utf-8"))
        row["minutes"] = round((time.perf_counter() - t0) / 60, 1)
        rows.append(row)
        write_table(rows, out, base.name, steps, len(records))
    return rows


def score_held_out(
    rows: list[dict[str, Any]], out: Path, test_data: Path, n_boot: int = 1000
) -> list[dict[str, Any]]:
    """Score each variant's exported teacher on ``test_data``; add ``test_macro_auroc`` and,
    against ``full``, ``delta_vs_full`` with its paired-bootstrap 95 % interval."""
    from radvoice.metrics import macro_auroc, paired_bootstrap_delta
    from radvoice.training.sources import corpus_records
    from radvoice.training.teacher_eval import evaluate_model_dir

    records = corpus_records(Path(test_data))
    probs = {}
    for r in rows:
        ev = evaluate_model_dir(out / r["variant"] / "model", records, out / "test_cache")
        probs[r["variant"]] = (ev.labels, ev.probabilities)
        r["test_macro_auroc"] = macro_auroc(ev.labels, ev.probabilities)
        r["test_cases"] = len(records)
    if "full" in probs:
        labels, ref = probs["full"]
        for r in rows:
            if r["variant"] != "full":
                d, lo, hi = paired_bootstrap_delta(labels, ref, probs[r["variant"]][1], n_boot)
                r["delta_vs_full"] = [d, lo, hi]
    return rows


def _delta(r: dict[str, Any]) -> str:
    if "delta_vs_full" not in r:
        return "—"
    d, lo, hi = r["delta_vs_full"]
    return f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def write_table(
    rows: list[dict[str, Any]], out: Path, name: str, steps: int, n: int | None
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    cols = [*METRICS, "query_top1_val"]
    held_out = any("test_macro_auroc" in r for r in rows)
    extra = ["held-out macro_auroc", "Δ vs full [95 % CI]"] if held_out else []
    lines = [
        f"# Teacher ablation: {name}, {steps} steps"
        + (f", {n} cases" if n else "")
        + " (validation split)",
        "",
        "| variant | " + " | ".join(cols + extra) + " | minutes |",
        "|---" * (len(cols) + len(extra) + 2) + "|",
    ]
    for r in rows:
        vals = ["—" if r.get(c) is None else f"{r[c]:.3f}" for c in cols]
        if held_out:
            vals += [f"{r.get('test_macro_auroc', float('nan')):.3f}", _delta(r)]
        lines.append(f"| {r['variant']} | " + " | ".join(vals) + f" | {r['minutes']} |")
    if held_out:
        n_test = max(r.get("test_cases", 0) for r in rows)
        lines += [
            "",
            f"Held out: {n_test} cases no variant trained on, each variant with its own "
            "validation thresholds; Δ = variant − full on the same cases, 95 % paired "
            "bootstrap over cases (1000 resamples). An interval that contains 0 is no evidence.",
        ]
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
    p.add_argument("--seed", type=int, help="training seed for every variant (split unchanged)")
    p.add_argument("--test-data", help="corpus folder to score every variant on (held out)")
    p.add_argument(
        "--held-out-only",
        action="store_true",
        help="score the variants already in --out on --test-data, without training",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    wanted = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.held_out_only:
        if not args.test_data:
            p.error("--held-out-only needs --test-data")
        if not (out / "ablation.json").is_file():
            p.error(f"{out / 'ablation.json'} not found: train the variants first")
        rows = json.loads((out / "ablation.json").read_text(encoding="utf-8"))
        rows = [r for r in rows if r["variant"] in wanted]
    else:
        rows = run_ablation(
            args.config, args.data, Path(args.cache), args.steps, out, wanted, args.seed
        )
    if args.test_data and rows:
        from radvoice.training.config import load_config

        rows = score_held_out(rows, out, Path(args.test_data))
        name = load_config(args.config).name
        write_table(rows, out, name, rows[0]["steps"], rows[0].get("cases"))
    print((Path(args.out) / "ablation.md").read_text(encoding="utf-8"))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
