"""The one training loop (:func:`run_steps`) and what every run shares: start-up (process group,
threads, log, seeds), resume, DDP wrapping, LR schedule, checkpoints, time budget, STOP file,
progress. The teacher and the student bring a :class:`StepTask`."""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from radvoice.errors import RadVoiceError
from radvoice.training.config import TrainSettings
from radvoice.training.distributed import DistContext, barrier, init_distributed

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(RadVoiceError):
    """A training checkpoint that cannot be resumed from."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The RNG seed of one optimisation step: resuming at ``step`` replays the same randomness."""
    return (seed * 1_000_003 + step * 9_176 + rank * 7_919) % (2**31)


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> np.ndarray:
    """Global batch of ``step`` (0-based): consecutive slices of per-epoch permutations."""
    if n <= 0:
        raise RadVoiceError("no training cases")
    out = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(pos, n)
        perm = epoch_permutation(n, seed, epoch)
        take = min(batch_size - len(out), n - offset)
        out.extend(perm[offset : offset + take].tolist())
        pos += take
    return np.asarray(out)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up then cosine decay to 5 % of the peak."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Atomic ``torch.save`` of plain tensors/containers (loadable with ``weights_only=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint to resume from at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a corrupt checkpoint
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}") from None


def make_logger(out_dir: Path, name: str, is_main: bool) -> logging.Logger:
    """A logger writing ``out_dir/train.log`` (main rank) and to stderr."""
    logger = logging.getLogger(f"radvoice.train.{name}.{id(out_dir)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        fh = logging.FileHandler(out_dir / "train.log")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        logger.addHandler(sh)
    else:
        logger.addHandler(logging.NullHandler())
    return logger


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


# -- the one training loop --------------------------------------------------------------------

STOP_FILE = "STOP"
"""Creating ``OUT/STOP`` stops a run cleanly after the current step (checkpoint + export)."""


class StepTask(Protocol):
    """What a model brings to :func:`run_steps`: one optimisation step and its periodic work."""

    def train_step(self, step: int) -> dict[str, float]:
        """Forward, backward and optimiser step ``step`` (0-based); the record to log."""
        ...

    def evaluate(self, step: int) -> None:
        """Periodic evaluation after ``step`` steps (main rank only)."""
        ...

    def checkpoint(self, step: int, history: list[dict[str, float]]) -> None:
        """Save a resumable checkpoint after ``step`` steps (main rank only)."""
        ...


@dataclass
class RunState:
    """One run's plumbing: settings, process group, log, output folder and optimiser."""

    ts: TrainSettings
    ctx: DistContext
    logger: logging.Logger
    out_dir: Path
    optimizer: torch.optim.Optimizer | None = None
    start_step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    timer: Timer = field(default_factory=lambda: Timer())


def start_run(ts: TrainSettings, out_dir: Path, name: str) -> RunState:
    """Process group, torch threads, ``train.log``, seeds and the batch-size check."""
    ctx = init_distributed()
    if ts.num_threads > 0:
        torch.set_num_threads(ts.num_threads)
    out_dir = Path(out_dir)
    logger = make_logger(out_dir, name, ctx.is_main)
    seed_everything(ts.seed)
    if ts.batch_size < 2 or ts.batch_size % ctx.world_size:
        raise RadVoiceError(
            f"batch_size {ts.batch_size} must be ≥ 2 and divisible by the world size {ctx.world_size}"
        )
    return RunState(ts, ctx, logger, out_dir)


def resume_run(run: RunState, resume: bool, load_model: Callable[[dict], None]) -> None:
    """With ``resume``: model (through ``load_model``), optimiser, step and history from
    ``OUT/checkpoint.pt``; without: a note when an old checkpoint will be overwritten."""
    path = run.out_dir / CHECKPOINT_NAME
    if resume:
        state = load_checkpoint(path)
        load_model(state["model"])
        assert run.optimizer is not None
        run.optimizer.load_state_dict(state["optimizer"])
        run.start_step = int(state["step"])
        run.history = list(state.get("history", []))
        run.logger.info(f"resumed from {path} at step {run.start_step}")
    elif path.exists() and run.ctx.is_main:
        run.logger.info(f"note: {path} exists and will be overwritten (use --resume to continue)")


def wrap_ddp(module: nn.Module, ctx: DistContext) -> nn.Module:
    """``module`` in DistributedDataParallel when several processes train, else itself."""
    if not ctx.enabled:
        return module
    ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def stop_reason(run: RunState) -> str | None:
    """Time budget spent or ``OUT/STOP`` present: the same answer on every rank (rank 0's)."""
    code = 0.0
    if run.ts.max_minutes > 0 and run.timer.elapsed() > run.ts.max_minutes * 60:
        code = 1.0
    elif (run.out_dir / STOP_FILE).exists():
        code = 2.0
    if run.ctx.enabled:
        t = torch.tensor([code])
        torch.distributed.broadcast(t, 0)
        code = float(t.item())
    return {1.0: f"time budget of {run.ts.max_minutes} min", 2.0: f"{STOP_FILE} file"}.get(code)


def run_steps(
    task: StepTask, run: RunState, desc: str, progress: bool, stop_after: int | None = None
) -> int:
    """Steps ``run.start_step`` … ``max_steps`` with the LR schedule, logging, periodic
    evaluation and checkpoints, the time budget, the STOP file and ``stop_after``; returns the
    step reached."""
    ts, ctx = run.ts, run.ctx
    if ctx.is_main:
        (run.out_dir / STOP_FILE).unlink(missing_ok=True)
    bar = _progress_bar(ts.max_steps, run.start_step, desc) if progress and ctx.is_main else None
    run.timer = Timer()
    step = run.start_step
    for step in range(run.start_step, ts.max_steps):
        set_lr(run.optimizer, step, ts)
        record = task.train_step(step)
        run.history.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
        done = step + 1
        if ctx.is_main and (done % ts.log_every == 0 or done == ts.max_steps):
            txt = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "step")
            run.logger.info(f"step {done}/{ts.max_steps} {txt} ({run.timer.elapsed():.0f} s)")
        if ctx.is_main and ts.eval_every > 0 and done % ts.eval_every == 0:
            task.evaluate(done)
        if ctx.is_main and ts.checkpoint_every > 0 and done % ts.checkpoint_every == 0:
            task.checkpoint(done, run.history)
        reason = stop_reason(run)
        if reason is not None:
            run.logger.info(f"stopping at step {done}: {reason}")
            break
        if stop_after is not None and done >= stop_after:
            break
        barrier(ctx)
    if bar is not None:
        bar.close()
    return max(step + 1, run.start_step) if ts.max_steps > run.start_step else run.start_step


def set_lr(optimizer: torch.optim.Optimizer | None, step: int, ts: TrainSettings) -> None:
    """Each parameter group's ``base_lr`` times :func:`lr_factor` of ``step``."""
    if optimizer is None:
        return
    factor = lr_factor(step, ts.warmup_steps, ts.max_steps)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor


def _progress_bar(total: int, initial: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, leave=False)
