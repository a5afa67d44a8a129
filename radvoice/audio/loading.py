"""Read any audio file soundfile understands as float32 mono 16 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from radvoice.audio.errors import AudioReadError

SAMPLE_RATE = 16_000


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average the channels of ``(frames, channels)`` data; 1-D input is returned as is."""
    if data.ndim == 1:
        return data.astype(np.float32, copy=False)
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0], dtype=np.float32)
    return data.mean(axis=1, dtype=np.float32)


def resample(audio: np.ndarray, orig_rate: int, new_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a 1-D float32 signal with :func:`torchaudio.functional.resample`."""
    if orig_rate == new_rate or audio.size == 0:
        return audio.astype(np.float32, copy=False)
    out = AF.resample(
        torch.from_numpy(np.ascontiguousarray(audio, np.float32)), orig_rate, new_rate
    )
    return out.numpy()


def load_audio(path: str | Path) -> np.ndarray:
    """Load ``path`` as float32 mono 16 kHz in [-1, 1] (any rate, channel count or format).

    Raises :class:`AudioReadError` with a one-line reason when the file is missing, is not
    audio, or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"audio file not found: {path.name}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise AudioReadError(f"cannot read {path.name} as audio: {reason}") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{path.name} holds no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioReadError(f"{path.name} holds non-finite samples")
    return resample(to_mono(data), int(rate), SAMPLE_RATE)
