"""Decide whether an utterance holds speech: energy frames, optionally silero-vad."""

from __future__ import annotations

import logging
import threading
import warnings
from typing import Any

import numpy as np

from radvoice.audio.levels import to_dbfs

log = logging.getLogger(__name__)

FRAME_S = 0.02


def frame_dbfs(audio: np.ndarray, sample_rate: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level (dBFS) of consecutive non-overlapping frames."""
    n = max(1, int(sample_rate * frame_s))
    count = audio.size // n
    if count == 0:
        return np.zeros(0)
    frames = audio[: count * n].reshape(count, n).astype(np.float64)
    return np.array([to_dbfs(v) for v in np.sqrt(np.mean(frames**2, axis=1))])


def energy_speech_seconds(
    audio: np.ndarray,
    sample_rate: int,
    threshold_dbfs: float = -45.0,
    noise_floor_dbfs: float | None = None,
    above_floor_db: float = 12.0,
) -> float:
    """Seconds of 20 ms frames louder than ``threshold_dbfs`` (and, when the ambient noise
    level measured before the press is known, louder than it by ``above_floor_db``), so that
    a noisy room alone does not count as speech."""
    levels = frame_dbfs(audio, sample_rate)
    if levels.size == 0:
        return 0.0
    limit = threshold_dbfs
    if noise_floor_dbfs is not None:
        limit = max(limit, noise_floor_dbfs + above_floor_db)
    return float(np.count_nonzero(levels > limit)) * FRAME_S


class SileroVad:
    """The silero-vad model from the installed ``silero-vad`` package (loaded offline, once)."""

    _lock = threading.Lock()
    _model: Any = None

    @classmethod
    def available(cls) -> bool:
        try:
            import silero_vad  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def speech_seconds(cls, audio: np.ndarray, sample_rate: int = 16_000) -> float:
        import torch
        from silero_vad import get_speech_timestamps, load_silero_vad

        with cls._lock:
            if cls._model is None:
                with warnings.catch_warnings():  # the package's own deprecation notices
                    warnings.simplefilter("ignore", FutureWarning)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    cls._model = load_silero_vad()
            stamps = get_speech_timestamps(
                torch.from_numpy(np.ascontiguousarray(audio, np.float32)),
                cls._model,
                sampling_rate=sample_rate,
                return_seconds=False,
            )
        return float(sum(s["end"] - s["start"] for s in stamps)) / sample_rate
