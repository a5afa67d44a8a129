"""CT-RATE / Speech-RATE readers on a tiny fixture written in exactly the real layout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from radvoice.data.ctrate import (
    CTRateDataset,
    CTRateError,
    CTRateLayout,
    parse_xy_spacing,
    read_labels,
    volume_relpath,
    volume_stem,
)
from radvoice.data.records import CaseRecord
from radvoice.data.speechrate import SpeechRateError, SpeechRateIndex
from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES

_MAKE = Path(__file__).parent / "fixtures" / "ctrate_tiny" / "make.py"
_spec = importlib.util.spec_from_file_location("ctrate_tiny_make", _MAKE)
assert _spec is not None and _spec.loader is not None
make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("ctrate")
    return root, make.write_ctrate_tiny(root)


def test_names_and_paths() -> None:
    assert volume_stem("train_12_b_3.nii.gz") == "train_12_b_3"
    assert volume_relpath("train_12_b_3.nii.gz") == Path(
        "train/train_12/train_12_b/train_12_b_3.nii.gz"
    )
    assert volume_relpath("valid_7_a_1") == Path("valid/valid_7/valid_7_a/valid_7_a_1.nii.gz")
    with pytest.raises(CTRateError):
        volume_relpath("case_1.nii.gz")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("[0.75, 0.75]", (0.75, 0.75)), ("[0.7,0.8]", (0.7, 0.8)), ("0.6", (0.6, 0.6))],
)
def test_parse_xy_spacing(text: str, expected: tuple[float, float]) -> None:
    assert parse_xy_spacing(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["", "[a, b]", "[0.7, 0.8, 0.9]", "[0, 0.5]"])
def test_parse_xy_spacing_rejects(bad: str) -> None:
    with pytest.raises(CTRateError):
        parse_xy_spacing(bad)


def test_layout_discovery_accepts_parent_and_dataset(tiny: tuple[Path, dict]) -> None:
    root, _ = tiny
    assert CTRateLayout.discover(root).root == root / "dataset"
    assert CTRateLayout.discover(root / "dataset").root == root / "dataset"
    layout = CTRateLayout.discover(root)
    assert layout.csv("reports", "valid").name == "validation_reports.csv"
    assert layout.csv("labels", "valid").name == "valid_predicted_labels.csv"
    assert layout.csv("metadata", "train").name == "train_metadata.csv"


def test_train_split_records(tiny: tuple[Path, dict]) -> None:
    root, expected = tiny
    ds = CTRateDataset(root, "train", speech_root=root / "speech")
    assert sorted(ds.names()) == expected["names"]["train"]
    assert list(ds.skipped) == expected["skipped"] and "report" in ds.skipped[make.NO_REPORT]
    records = {r.case_id: r for r in ds}
    assert len(records) == len(ds) == 3
    for name, rec in records.items():
        assert isinstance(rec, CaseRecord) and rec.source == "ct-rate" and rec.split == "train"
        assert rec.volume is not None
        np.testing.assert_array_equal(rec.volume.array, expected["hu"][name])
        assert rec.volume.spacing == pytest.approx(expected["spacing"][name])
        assert any("header spacing" in w for w in rec.volume.warnings)
        assert sorted(rec.positive) == sorted(make.LABELS[name])
        assert rec.volume_path is not None and rec.volume_path.name == f"{name}.nii.gz"
    assert records["train_1_a_2"].impression == ""  # "Not given." is no text
    assert records["train_1_a_2"].findings.startswith("Heart size is enlarged")
    assert records["train_1_a_1"].report.endswith("Lung nodule.")
    assert records["train_1_a_1"].audio_path is not None
    assert records["train_1_a_1"].audio_path.name == "train_1_a_1_findings.wav"
    assert records["train_2_a_1"].audio_path is None
    # slope 0.5 / intercept -1000 volume: HU exact, and a real HU range
    assert records["train_2_a_1"].volume.array.min() >= -1000


def test_valid_split_and_lazy_volumes(tiny: tuple[Path, dict]) -> None:
    root, expected = tiny
    ds = CTRateDataset(root / "dataset", "valid", speech_root=root / "speech", load_volumes=False)
    (rec,) = list(ds)
    assert rec.case_id == "valid_1_a_1" and rec.volume is None and rec.split == "valid"
    assert rec.audio_path is not None and rec.audio_path.exists()
    full = CTRateDataset(root, "valid").record("valid_1_a_1.nii.gz")
    np.testing.assert_array_equal(full.volume.array, expected["hu"]["valid_1_a_1"])
    with pytest.raises(CTRateError):
        full_ds = CTRateDataset(root, "valid")
        full_ds.record("train_1_a_1")


def test_labels_keep_pathology_order(tiny: tuple[Path, dict]) -> None:
    root, _ = tiny
    labels = read_labels(root / "dataset/multi_abnormality_labels/train_predicted_labels.csv")
    vec = labels["train_1_a_1"]
    assert vec.shape == (18,)
    assert {PATHOLOGIES[i] for i in np.flatnonzero(vec)} == {"Pleural effusion", "Lung nodule"}


def test_bad_inputs_raise_one_line_errors(tiny: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = tiny
    with pytest.raises(CTRateError, match="not found"):
        CTRateLayout.discover(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CTRateError, match="no train/ or valid/"):
        CTRateLayout.discover(tmp_path / "empty")
    bad = tmp_path / "labels.csv"
    bad.write_text("VolumeName,Cardiomegaly\ntrain_1_a_1.nii.gz,1\n", encoding="utf-8")
    with pytest.raises(CTRateError, match="lacks column"):
        read_labels(bad)
    corrupt = tmp_path / "copy"
    import shutil

    shutil.copytree(root / "dataset", corrupt)
    (corrupt / "train/train_1/train_1_a/train_1_a_1.nii.gz").write_bytes(b"not a nifti")
    ds = CTRateDataset(corrupt, "train")
    with pytest.raises(CTRateError, match="not a readable NIfTI") as info:
        ds.record("train_1_a_1")
    assert isinstance(info.value, RadVoiceError) and "\n" not in str(info.value)


def test_speechrate_index_flat_and_nested(tmp_path: Path, tiny: tuple[Path, dict]) -> None:
    root, _ = tiny
    nested = SpeechRateIndex(root / "speech")
    assert nested.volumes() == sorted(make.SPOKEN)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "valid_3_a_2_findings.wav").write_bytes(b"RIFF")
    (flat / "valid_3_a_2_impressions.wav").write_bytes(b"RIFF")
    (flat / "notes.wav").write_bytes(b"RIFF")
    idx = SpeechRateIndex(flat)
    assert len(idx) == 1
    assert idx.findings("valid_3_a_2.nii.gz") == flat / "valid_3_a_2_findings.wav"
    assert idx.impressions("valid_3_a_2") == flat / "valid_3_a_2_impressions.wav"
    assert idx.findings("valid_9_a_1") is None
    with pytest.raises(SpeechRateError):
        SpeechRateIndex(tmp_path / "missing")


def test_case_record_checks_labels() -> None:
    with pytest.raises(ValueError):
        CaseRecord("x", "f", "i", labels=np.zeros(5))


def test_wrong_rescale_is_flagged(tiny: tuple[Path, dict], tmp_path: Path) -> None:
    import shutil

    root, _ = tiny
    copy = tmp_path / "dataset"
    shutil.copytree(root / "dataset", copy)
    meta = copy / "metadata" / "validation_metadata.csv"
    meta.write_text(meta.read_text().replace(",-8192.0,", ",0.0,"), encoding="utf-8")
    rec = CTRateDataset(copy, "valid").record("valid_1_a_1")
    assert any("do not look like HU" in w for w in rec.volume.warnings)
