"""Compare our torch encoder with ctranslate2's on the same log-mel features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from radvoice.nn.whisper.model import AudioEncoder


@dataclass(frozen=True)
class EquivalenceReport:
    """Agreement of two ``(frames, channels)`` encoder outputs."""

    max_abs_diff: float
    max_abs_value: float
    min_cosine: float
    mean_cosine: float

    def __str__(self) -> str:
        return (
            f"max |diff| {self.max_abs_diff:.4g} (of max |value| {self.max_abs_value:.4g}), "
            f"cosine min {self.min_cosine:.6f} mean {self.mean_cosine:.6f}"
        )


def compare_outputs(ours: np.ndarray, reference: np.ndarray) -> EquivalenceReport:
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs {reference.shape}")
    num = (ours * reference).sum(-1)
    cos = num / (np.linalg.norm(ours, axis=-1) * np.linalg.norm(reference, axis=-1) + 1e-12)
    return EquivalenceReport(
        max_abs_diff=float(np.abs(ours - reference).max()),
        max_abs_value=float(np.abs(reference).max()),
        min_cosine=float(cos.min()),
        mean_cosine=float(cos.mean()),
    )


def synthetic_speechlike(
    seconds: float = 4.0, seed: int = 0, sample_rate: int = 16000
) -> np.ndarray:
    """A deterministic voiced/unvoiced test signal: gliding harmonics with formant-like
    amplitude modulation, noise bursts and pauses (float32, 16 kHz)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(
        np.sin(h * phase) / h * (1 + np.sin(2 * np.pi * (0.5 + h / 7) * t)) for h in range(1, 20)
    )
    syllables = (np.sin(2 * np.pi * 3.0 * t) > -0.2).astype(np.float64)
    noise = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)
    audio = 0.05 * voiced * syllables + 0.02 * noise
    return (audio / (np.abs(audio).max() + 1e-9) * 0.5).astype(np.float32)


def ct2_encode(model, mel: np.ndarray) -> np.ndarray:
    """ctranslate2 encoder output ``(B, frames, C)`` of ``(B, n_mels, T)`` features."""
    import ctranslate2

    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel, dtype=np.float32))
    return np.array(model.encode(view, to_cpu=True))


def compare_with_ctranslate2(
    ct2_model, encoder: AudioEncoder, mel: np.ndarray
) -> EquivalenceReport:
    """Run both encoders on ``mel`` ``(B, n_mels, T)`` and compare all frames."""
    reference = ct2_encode(ct2_model, mel)
    with torch.inference_mode():
        ours = (
            encoder(torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))).float().numpy()
        )
    return compare_outputs(
        ours.reshape(-1, ours.shape[-1]), reference.reshape(-1, reference.shape[-1])
    )
