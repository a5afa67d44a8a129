"""Running `radvoice train` as one process or under torchrun, for the DDP equivalence tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_PROCESS = [sys.executable, "-m", "radvoice.cli.main"]


def torchrun(port: int, nproc: int = 2) -> list[str]:
    """The command prefix that runs the CLI in ``nproc`` processes (gloo on CPU)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_port",
        str(port),
        "-m",
        "radvoice.cli.main",
    ]


def run_cli(args: list[str], cwd: Path, **env: str) -> None:
    """Run ``args`` with one OpenMP thread (plus ``env``); fail with its stderr tail."""
    full = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **env)
    proc = subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def history(run_dir: Path) -> list[dict[str, float]]:
    """The per-step loss records saved in a run's checkpoint."""
    import torch

    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    return state["history"]
