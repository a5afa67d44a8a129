"""DDP under torchrun (2 processes, gloo on CPU) gives the single-process training curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ddp_support import ONE_PROCESS, history, run_cli, torchrun


def _losses(run_dir: Path) -> list[float]:
    return [h["loss"] for h in history(run_dir)]


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
    run_cli([*torchrun(29533), *common, "--out", str(tmp_path / "ddp")], tmp_path)
    run_cli([*ONE_PROCESS, *common, "--out", str(tmp_path / "one")], tmp_path)
    ddp, one = _losses(tmp_path / "ddp"), _losses(tmp_path / "one")
    assert len(ddp) == len(one) == 3
    assert np.allclose(ddp, one, rtol=2e-3, atol=2e-4), (ddp, one)
    log = (tmp_path / "ddp" / "train.log").read_text()
    assert "world 2" in log
    cfg = json.loads((tmp_path / "ddp" / "model" / "config.json").read_text())
    assert cfg["training"]["steps"] == 3
