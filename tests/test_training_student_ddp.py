"""The speech student under torchrun (2 processes, gloo on CPU) follows the one-process curve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training_student import corpus, models_root  # noqa: F401 - module fixtures

from radvoice.nn.speech_student import SpeechStudent

REPO = Path(__file__).resolve().parents[1]
STEPS = 4
PARTS = ("loss", "contrastive", "kd", "query_kd", "scale")


def _run(args: list[str], cwd: Path, models: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), RADVOICE_MODELS=str(models))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _history(run_dir: Path) -> list[dict[str, float]]:
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    return state["history"]


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
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29541",
        "-m",
        "radvoice.cli.main",
    ]
    # DDP first: it fills DATA/cache (rank 0 first, then rank 1 reads it); the single process
    # then reuses the same encoder features and teacher targets.
    _run([*torchrun, *common, "--out", str(tmp_path / "ddp")], tmp_path, models_root)
    one_cmd = [sys.executable, "-m", "radvoice.cli.main", *common, "--out", str(tmp_path / "one")]
    _run(one_cmd, tmp_path, models_root)
    ddp, one = _history(tmp_path / "ddp"), _history(tmp_path / "one")
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
