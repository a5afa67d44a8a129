"""Corpus on disk (round trip, resume), real-CT backgrounds and the `radvoice data` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from radvoice.cli.main import main
from radvoice.data.corpus import (
    CorpusError,
    CorpusSettings,
    build_corpus,
    case_records,
    load_case_json,
    load_masks,
    load_volume,
    read_manifest,
)
from radvoice.data.synth import generate_case

SHAPE, SPACING = (24, 64, 64), (5.6, 5.6, 12.0)


def test_corpus_round_trip_and_resume(tmp_path: Path) -> None:
    settings = CorpusSettings(seed=3, shape=SHAPE, spacing=SPACING)
    rows = build_corpus(tmp_path, 2, settings)
    assert [r["index"] for r in rows] == [0, 1]
    case = generate_case(3, 1, shape=SHAPE, spacing=SPACING)
    row = rows[1]
    vol = load_volume(tmp_path, row)
    assert np.array_equal(vol.array, case.volume.array)
    assert np.allclose(vol.spacing, case.volume.spacing)
    assert np.allclose(vol.origin, case.volume.origin)
    doc = load_case_json(tmp_path, row)
    assert doc["report"] == case.report.to_dict()
    assert [doc["labels"][k] for k in doc["labels"]] == list(case.labels)
    masks = load_masks(tmp_path, row)
    assert masks.keys() == case.masks.keys()
    assert all(np.array_equal(masks[k], case.masks[k]) for k in masks)
    stamp = (tmp_path / row["volume"]).stat().st_mtime_ns
    rows = build_corpus(tmp_path, 3, settings)  # resumes: only case 2 is new
    assert len(rows) == 3
    assert (tmp_path / row["volume"]).stat().st_mtime_ns == stamp
    recs = case_records(tmp_path)
    assert recs[2].case_id == rows[2]["case_id"] and recs[2].findings
    # the training side reads the same folder (`radvoice train teacher --data DIR`)
    from radvoice.training.config import DataSettings
    from radvoice.training.sources import load_records

    train = load_records(str(tmp_path), DataSettings(val_fraction=0.34))
    assert [r.case_id for r in train] == [r["case_id"] for r in rows]
    assert train[1].report == recs[1].report and list(train[1].labels) == list(case.labels)
    assert np.array_equal(train[1].load().array, case.volume.array)
    # `--data DIR --data toy:4` mixes sources; one case id in two sources is refused
    from radvoice.training.sources import DataSourceError

    mixed = load_records([str(tmp_path), "toy:4"], DataSettings(val_fraction=0.34))
    assert [r.case_id for r in mixed[:3]] == [r.case_id for r in train] and len(mixed) == 7
    assert [r.split for r in mixed[:3]] == [r.split for r in train]
    with pytest.raises(DataSourceError, match="in both"):
        load_records([str(tmp_path), str(tmp_path)], DataSettings(val_fraction=0.34))
    with pytest.raises(CorpusError, match="other settings"):
        build_corpus(tmp_path, 3, CorpusSettings(seed=4, shape=SHAPE, spacing=SPACING))


def test_truncated_manifest_line_is_ignored(tmp_path: Path) -> None:
    settings = CorpusSettings(seed=1, shape=SHAPE, spacing=SPACING)
    build_corpus(tmp_path, 1, settings)
    with open(tmp_path / "manifest.jsonl", "a") as f:
        f.write('{"case_id": "syn_1_0000')
    assert len(read_manifest(tmp_path)) == 1


def test_cli_synth_summary_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    args = [
        "data",
        "synth",
        "--out",
        str(out),
        "--n",
        "2",
        "--seed",
        "5",
        "--shape",
        "24,64,64",
        "--spacing",
        "5.6,5.6,12",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2 cases" in text and "disk use" in text and "Lung nodule" in text
    assert len(read_manifest(out)) == 2
    assert main([*args[:-4], "--shape", "24,64"]) == 2
    assert "--shape" in capsys.readouterr().err
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(tmp_path / "d"),
                "--n",
                "1",
                "--shape",
                "24,64,64",
                "--spacing",
                "5.6,5.6,12",
                "--voices",
                "no-such-engine",
            ]
        )
        == 2
    )


@pytest.mark.realct
def test_real_background_inserts_findings(real_ct_dir: Path) -> None:
    path = real_ct_dir / "lung1_image.nrrd"
    case = generate_case(
        2,
        0,
        shape=(32, 96, 96),
        spacing=(3.6, 3.6, 8.0),
        real_background=path,
        labels=["Pleural effusion", "Consolidation", "Cardiomegaly"],
    )
    assert case.background == "lung1"
    assert case.case_id == "syn_2_000000_lung1"  # not the phantom case of the same seed/index
    assert "Lung nodule" in case.positive  # annotated in lung1
    assert "Cardiomegaly" in case.positive  # the real heart, dilated (tests/test_data_real_*)
    assert case.known.all()  # every finding is insertable into lung1, none left unclear
    for name in ("Pleural effusion", "Consolidation", "Cardiomegaly"):
        if name in case.positive:
            assert case.masks[name].any()
    meta = json.dumps(case.volume.meta)
    assert "PatientName" not in meta


@pytest.mark.realct
def test_heldout_background_is_refused(real_ct_dir: Path) -> None:
    from radvoice.data.phantom.real_background import BackgroundError

    with pytest.raises(BackgroundError, match="held-out"):
        generate_case(
            0, 0, shape=SHAPE, spacing=SPACING, real_background=real_ct_dir / "lung2_image.nrrd"
        )


def test_on_the_fly_stream_matches_generate_case() -> None:
    from radvoice.data.stream import SyntheticCaseStream

    stream = SyntheticCaseStream(seed=9, start=4, length=2, shape=SHAPE, spacing=SPACING)
    items = list(stream)
    assert [it["case_id"] for it in items] == ["syn_9_000004", "syn_9_000005"]
    ref = generate_case(9, 5, shape=SHAPE, spacing=SPACING)
    assert np.array_equal(items[1]["volume"], ref.volume.array)
    assert np.array_equal(items[1]["labels"], ref.labels)
