"""The ablation runner changes exactly one switch per variant and tabulates every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radvoice.training.ablation import (
    VARIANTS,
    run_ablation,
    score_held_out,
    variant_config,
    write_table,
)
from radvoice.training.config import load_config


def test_each_variant_changes_only_its_switch() -> None:
    base = load_config("teacher_cpu2")
    for name, overrides in VARIANTS.items():
        cfg = variant_config(base, name, 10)
        assert cfg.train.max_steps == 10 and cfg.train.max_minutes == 0
        changed = {k: v for k, v in cfg.model["loss"].items() if base.model["loss"].get(k) != v}
        assert changed == {k: v for k, v in overrides.items() if base.model["loss"].get(k) != v}
        assert {k: v for k, v in cfg.model.items() if k != "loss"} == {
            k: v for k, v in base.model.items() if k != "loss"
        }
    with pytest.raises(ValueError, match="unknown variant"):
        variant_config(base, "no_such_thing", 10)


def test_seed_replaces_only_the_training_seed() -> None:
    base = load_config("teacher_cpu2")
    same = variant_config(base, "full", 10)
    other = variant_config(base, "full", 10, seed=base.train.seed + 7)
    assert same.train.seed == base.train.seed and other.train.seed == base.train.seed + 7
    assert other.model == same.model and other.data == same.data


def test_runs_and_tabulates(tmp_path: Path, monkeypatch) -> None:
    import radvoice.training.config as config_mod

    tiny = load_config("teacher_tiny")
    tiny.model["loss"]["query_weight"] = 1.0
    monkeypatch.setattr(config_mod, "load_config", lambda _name: tiny)
    rows = run_ablation(
        "teacher_tiny", "toy:12", tmp_path / "cache", 3, tmp_path / "out", ["full", "no_guard"]
    )
    assert [r["variant"] for r in rows] == ["full", "no_guard"]
    assert all(r["steps"] == 3 and 0.0 <= r["macro_auroc"] <= 1.0 for r in rows)
    assert rows[0]["query_top1_val"] is not None
    table = (tmp_path / "out" / "ablation.md").read_text()
    assert "| no_guard |" in table
    assert json.loads((tmp_path / "out" / "ablation.json").read_text()) == rows
    # held-out scoring: every variant on the same unseen cases, compared with full
    import radvoice.training.sources as sources
    from radvoice.training.toy import toy_records

    monkeypatch.setattr(sources, "corpus_records", lambda _root: toy_records(10, seed=9))
    scored = score_held_out(rows, tmp_path / "out", tmp_path / "unused", n_boot=50)
    assert all(0.0 <= r["test_macro_auroc"] <= 1.0 and r["test_cases"] == 10 for r in scored)
    d, lo, hi = scored[1]["delta_vs_full"]
    assert lo <= d <= hi and "delta_vs_full" not in scored[0]
    write_table(scored, tmp_path / "out", "tiny", 3, scored[0]["cases"])
    assert "Δ vs full" in (tmp_path / "out" / "ablation.md").read_text()
