"""Pieces every training loop shares: seeding, LR schedule, resumable checkpoints, logging."""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radvoice.errors import RadVoiceError

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
