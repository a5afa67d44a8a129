"""DDP under torchrun (2 processes, gloo on CPU) gives the single-process training curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _losses(run_dir: Path) -> list[float]:
    import torch

    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    return [h["loss"] for h in state["history"]]


@pytest.mark.slow
def test_torchrun_two_processes_matches_single_process(tmp_path: Path) -> None:
    common = [
        "train",
        "teacher",
        "--config",
        "teacher_tiny",
        "--data",
        "toy:24",
        "--max-steps",
        "3",
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
        "29533",
        "-m",
        "radvoice.cli.main",
    ]
    _run([*torchrun, *common, "--out", str(tmp_path / "ddp")], tmp_path)
    _run(
        [sys.executable, "-m", "radvoice.cli.main", *common, "--out", str(tmp_path / "one")],
        tmp_path,
    )
    ddp, one = _losses(tmp_path / "ddp"), _losses(tmp_path / "one")
    assert len(ddp) == len(one) == 3
    assert np.allclose(ddp, one, rtol=2e-3, atol=2e-4), (ddp, one)
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert "world 2" in log
    cfg = json.loads((tmp_path / "ddp" / "model" / "config.json").read_text())
    assert cfg["training"]["steps"] == 3
