"""The speech student under torchrun (2 processes, gloo on CPU) follows the one-process curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ddp_support import ONE_PROCESS, history, run_cli, torchrun
from test_training_student import corpus, models_root  # noqa: F401 - module fixtures

from radvoice.nn.speech_student import SpeechStudent

STEPS = 4
PARTS = ("loss", "contrastive", "kd", "query_kd", "scale")


@pytest.mark.slow
def test_torchrun_two_processes_matches_single_process(
    models_root: Path,  # noqa: F811 - the imported fixture
    corpus: Path,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    common = [
        "train",
        "student",
        "--config",
        "student_tiny",
        "--data",
        str(corpus),
        "--teacher",
        str(models_root / "teacher"),
        "--max-steps",
        str(STEPS),
        "--threads",
        "1",
        "--no-progress",
    ]
    # DDP first: it fills DATA/cache (rank 0 first, then rank 1 reads it); the single process
    # then reuses the same encoder features and teacher targets.
    models = {"RADVOICE_MODELS": str(models_root)}
    run_cli([*torchrun(29541), *common, "--out", str(tmp_path / "ddp")], tmp_path, **models)
    run_cli([*ONE_PROCESS, *common, "--out", str(tmp_path / "one")], tmp_path, **models)
    ddp, one = history(tmp_path / "ddp"), history(tmp_path / "one")
    assert [h["step"] for h in ddp] == [h["step"] for h in one] == list(range(1, STEPS + 1))
    curves = {p: ([h[p] for h in ddp], [h[p] for h in one]) for p in PARTS}
    off = {p: ab for p, ab in curves.items() if not np.allclose(*ab, rtol=2e-3, atol=2e-4)}
    assert not off, "; ".join(
        f"{p}: ddp {np.round(a, 5)} one {np.round(b, 5)}" for p, (a, b) in off.items()
    )
    assert "world 2" in (tmp_path / "ddp" / "train.log").read_text()
    audio = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1
    emb = {}
    for name in ("ddp", "one"):
        student = SpeechStudent.load(tmp_path / name / "model")  # SHA-256 checked
        emb[name] = student.embed_audio(audio)
        assert emb[name].shape == (512,) and abs(float(np.linalg.norm(emb[name])) - 1.0) < 1e-4
    assert float(emb["ddp"] @ emb["one"]) > 0.999
