"""``radvoice classify``: the JSON contract, repeated queries, any WAV format, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from radvoice.cli.main import main as cli_main
from radvoice.imaging.itk_io import write_volume
from radvoice.labels import PATHOLOGIES
from radvoice.nn.query_rank import QUERY_TIE_MARGIN
from radvoice.training.cases import assign_splits
from radvoice.training.config import load_config
from radvoice.training.student import StudentSpec
from radvoice.training.teacher import train_teacher
from radvoice.training.toy import toy_records, toy_volume


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    """A tiny teacher and a tiny (untrained) student, registered like the shipped ones."""
    root = tmp_path_factory.mktemp("models")
    cfg = load_config("teacher_tiny")
    cfg.train.max_steps = 2
    recs = toy_records(12, seed=2)
    assign_splits(recs, 0.25, seed=0)
    train_teacher(cfg, recs, root / "run", progress=False, export_dir=root / "teacher")
    torch.manual_seed(0)
    student = StudentSpec.from_dict(load_config("student_tiny").model).build(root)
    student.save(root / "student")
    return root


@pytest.fixture(scope="module")
def volume(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vol") / "case.nii.gz"
    labels = np.zeros(18, dtype=np.int64)
    labels[1] = 1
    write_volume(toy_volume(labels, seed=1), path)
    return path


def _wav(path: Path, rate: int, channels: int, seconds: float = 1.3) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    sf.write(str(path), data.astype(np.float32), rate)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli_main(["classify", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_contract_with_text_and_audio_queries(models_root, volume, tmp_path, capsys):
    stereo = _wav(tmp_path / "q44.wav", 44100, 2)
    mono8k = _wav(tmp_path / "q8.wav", 8000, 1)
    code, out, err = _run(
        capsys,
        str(volume),
        "--models",
        str(models_root),
        "--json",
        "--text",
        "is there a pleural effusion",
        "--audio",
        str(stereo),
        "--audio",
        str(mono8k),
    )
    assert code == 0, err
    result = json.loads(out)
    probs, thr = result["probabilities"], result["thresholds"]
    assert list(probs) == list(PATHOLOGIES) and set(thr) == set(PATHOLOGIES)
    assert all(0.0 <= v <= 1.0 for v in probs.values())
    assert "query" not in result and len(result["queries"]) == 3
    assert [q["source"] for q in result["queries"]] == ["text", "audio", "audio"]
    for q in result["queries"]:
        assert q["label"] in PATHOLOGIES
        assert -1.0 <= q["label_score"] <= 1.0
        assert q["probability"] == pytest.approx(probs[q["label"]])
        assert isinstance(q["alternatives"], list)
        for alt in q["alternatives"]:  # near ties of the question, with their probabilities
            assert alt["label"] in PATHOLOGIES and alt["label"] != q["label"]
            assert 0.0 <= q["label_score"] - alt["label_score"] <= QUERY_TIE_MARGIN
            assert alt["probability"] == pytest.approx(probs[alt["label"]])


def test_single_query_gives_query_object_and_text_output(models_root, volume, capsys):
    code, out, _ = _run(
        capsys, str(volume), "--models", str(models_root), "--json", "--text", "any emphysema?"
    )
    assert code == 0
    result = json.loads(out)
    assert "queries" not in result and result["query"]["source"] == "text"
    code, out, _ = _run(capsys, str(volume), "--models", str(models_root))
    assert code == 0 and "not for clinical use" in out
    assert sum(name in out for name in PATHOLOGIES) == 18


@pytest.mark.parametrize("what", ["bad_wav", "missing_wav", "missing_volume", "empty_text"])
def test_unreadable_input_exits_2_with_one_line(models_root, volume, tmp_path, capsys, what):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav")
    argv = {
        "bad_wav": [str(volume), "--audio", str(bad)],
        "missing_wav": [str(volume), "--audio", str(tmp_path / "nope.wav")],
        "missing_volume": [str(tmp_path / "nope.nii.gz")],
        "empty_text": [str(volume), "--text", "  "],
    }[what]
    code, out, err = _run(capsys, *argv, "--models", str(models_root), "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("radvoice: error:"), err
    assert "Traceback" not in err


def test_several_volumes_give_json_lines_and_go_on_past_a_bad_one(
    models_root, volume, tmp_path, capsys
):
    from radvoice.eval.ct_eval import ood_volumes

    head = tmp_path / "head.nii.gz"
    write_volume(ood_volumes()["head CT (generated)"], head)
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a volume")
    code, out, _ = _run(
        capsys, str(volume), str(bad), str(head), "--models", str(models_root), "--json",
        "--text", "is there a pleural effusion?",
    )  # fmt: skip
    assert code == 2
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert len(rows) == 3
    assert rows[0]["path"] == str(volume) and "query" in rows[0]
    assert "error" in rows[1] and "\n" not in rows[1]["error"]
    flagged = rows[2]
    assert flagged["domain"]["chest_ct"] is False and flagged["in_domain"] is False
    assert flagged["called"] == [] and "head" in flagged["domain"]["message"]
    assert set(flagged["domain"]) == {"chest_ct", "in_distribution", "message"}


def test_heatmap_dir_gets_a_nifti_per_asked_pathology_in_the_volume_grid(
    models_root, volume, tmp_path, capsys
):
    from radvoice.imaging import read_volume

    out_dir = tmp_path / "maps"
    code, out, _ = _run(
        capsys, str(volume), "--models", str(models_root), "--json", "--heatmap", str(out_dir),
        "--text", "is there a pleural effusion?", "--text", "any nodules?",
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    asked = {q["label"] for q in result["queries"]}
    assert len(result["heatmaps"]) == len(asked) >= 1
    import SimpleITK as sitk

    src = read_volume(volume)
    for path in result["heatmaps"]:
        img = sitk.ReadImage(path)
        arr = sitk.GetArrayFromImage(img)
        assert arr.shape == src.array.shape and arr.dtype == np.float32
        assert 0.0 <= arr.min() <= arr.max() <= 1.0
        np.testing.assert_allclose(img.GetSpacing(), src.spacing, rtol=1e-5)
