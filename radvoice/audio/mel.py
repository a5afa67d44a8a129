"""Whisper's log-mel front end on whole utterances (torch + torchaudio).

Matches ``whisper.audio.log_mel_spectrogram``: 16 kHz, n_fft 400, hop 160, periodic Hann window,
centred STFT with reflect padding, power spectrum with the last frame dropped, a Slaney-scale
Slaney-normalised mel filterbank, ``log10(clamp(min=1e-10))``, a floor at ``max - 8`` and
``(x + 4) / 4``. The incremental version is :class:`radvoice.audio.streaming_mel.StreamingLogMel`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as AF

from radvoice.audio.errors import AudioError

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
DYNAMIC_RANGE = 8.0  # log10 units kept below the maximum (80 dB)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS) -> torch.Tensor:
    """Slaney mel filterbank ``(n_mels, n_fft // 2 + 1)`` as in Whisper (librosa's default)."""
    fb = AF.melscale_fbanks(
        n_freqs=N_FFT // 2 + 1,
        f_min=0.0,
        f_max=SAMPLE_RATE / 2,
        n_mels=n_mels,
        sample_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return fb.T.contiguous()


@lru_cache(maxsize=1)
def hann_window() -> torch.Tensor:
    """The periodic Hann window Whisper uses."""
    return torch.hann_window(N_FFT)


def as_tensor(audio: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A 1-D float32 tensor view of ``audio``."""
    tensor = torch.from_numpy(np.asarray(audio)) if not torch.is_tensor(audio) else audio
    tensor = tensor.to(torch.float32)
    if tensor.ndim != 1:
        raise AudioError(f"expected mono audio (1-D), got shape {tuple(tensor.shape)}")
    return tensor


def log_power_to_mel(power: torch.Tensor, n_mels: int = N_MELS) -> torch.Tensor:
    """``(n_fft//2+1, frames)`` power spectrum → unclamped log10 mel ``(n_mels, frames)``."""
    return (mel_filters(n_mels) @ power).clamp(min=1e-10).log10()


def scale_log_mel(log_spec: torch.Tensor, max_value: float | torch.Tensor) -> torch.Tensor:
    """Whisper's floor at ``max_value - 8`` and ``(x + 4) / 4`` scaling."""
    floor = torch.as_tensor(max_value, dtype=log_spec.dtype) - DYNAMIC_RANGE
    return (torch.maximum(log_spec, floor) + 4.0) / 4.0


def log_mel_spectrogram(
    audio: np.ndarray | torch.Tensor, n_mels: int = N_MELS, padding: int = 0
) -> torch.Tensor:
    """Whisper log-mel of 16 kHz mono ``audio`` (+ ``padding`` zeros): ``(n_mels, len // 160)``."""
    signal = as_tensor(audio)
    if padding > 0:
        signal = torch.nn.functional.pad(signal, (0, padding))
    if signal.numel() <= N_FFT // 2:
        raise AudioError(f"audio too short for a spectrogram ({signal.numel()} samples)")
    stft = torch.stft(signal, N_FFT, HOP_LENGTH, window=hann_window(), return_complex=True)
    power = stft[..., :-1].abs() ** 2
    log_spec = log_power_to_mel(power, n_mels)
    return scale_log_mel(log_spec, log_spec.max())
