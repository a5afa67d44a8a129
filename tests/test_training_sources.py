"""--data sources: toy, synthetic (with its restart index), errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import radvoice.data.synth as synth
from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES
from radvoice.training.config import DataSettings
from radvoice.training.sources import DataSourceError, load_records


@dataclass
class _Report:
    findings: str
    impression: str


@dataclass
class _Case:
    case_id: str
    volume: Volume
    labels: np.ndarray
    report: _Report


def test_synthetic_records_use_and_reuse_the_index(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []

    def fake_generate(seed: int, index: int = 0, **_: object) -> _Case:
        calls.append(index)
        labels = np.zeros(NUM_PATHOLOGIES, np.int8)
        labels[index % NUM_PATHOLOGIES] = 1
        vol = Volume(np.full((4, 4, 4), index, np.int16))
        return _Case(f"syn_{seed}_{index:06d}", vol, labels, _Report(f"F{index}.", f"I{index}."))

    monkeypatch.setattr(synth, "generate_case", fake_generate)
    seen: list[str] = []
    settings = DataSettings(synthetic_cases=5, synthetic_seed=3, val_fraction=0.4)
    recs = load_records(
        "synthetic", settings, on_volume=lambda r, v: seen.append(r.case_id), cache_dir=tmp_path
    )
    assert [r.case_id for r in recs] == [f"syn_3_{i:06d}" for i in range(5)]
    assert recs[2].report == "F2. I2."
    assert recs[2].labels[2] == 1
    assert seen == [r.case_id for r in recs] and calls == list(range(5))
    assert {r.split for r in recs} <= {"train", "val"}
    calls.clear()
    again = load_records("synthetic", settings, cache_dir=tmp_path)
    assert calls == []  # texts and labels come from the index
    assert [r.report for r in again] == [r.report for r in recs]
    assert [r.split for r in again] == [r.split for r in recs]
    assert int(again[4].load().array[0, 0, 0]) == 4  # volumes regenerate on demand
    assert calls == [4]


def test_bad_specs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="integer"):
        load_records("toy:x", DataSettings())
    with pytest.raises(DataSourceError, match="not found"):
        load_records(str(tmp_path / "missing"), DataSettings())
    with pytest.raises(DataSourceError, match="neither"):
        load_records(str(tmp_path), DataSettings())
    with pytest.raises(DataSourceError, match="synthetic_cases"):
        load_records("synthetic", DataSettings(synthetic_cases=0))
    recs = load_records("toy:6", DataSettings(max_cases=4))
    assert len(recs) == 4
