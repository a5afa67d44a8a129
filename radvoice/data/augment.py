"""Acoustic augmentation in torchaudio: noise at a given SNR, reverberation, band limits, gain,
clipping and speed. Every random choice comes from a seed, and each step is recorded as a
plain dict (stored in the speech manifest) that :func:`apply_augmentation` replays exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torchaudio.functional as AF

SAMPLE_RATE = 16_000
NOISE_KINDS: tuple[str, ...] = ("white", "pink", "babble", "hum")


def _t(audio: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))


def power(audio: np.ndarray) -> float:
    return float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    """SNR of ``noisy`` relative to ``clean`` (same length), in dB."""
    noise = noisy.astype(np.float64) - clean.astype(np.float64)
    return 10.0 * math.log10(power(clean) / max(power(noise), 1e-20))


def make_noise(
    kind: str,
    n: int,
    rng: np.random.Generator,
    sources: list[np.ndarray] | None = None,
) -> np.ndarray:
    """``n`` samples of ``kind`` noise (unit-less; scaled later).

    * ``white`` - flat spectrum; ``pink`` - 1/f spectrum.
    * ``babble`` - a mix of 3-6 other utterances from ``sources`` when given, else speech-shaped
      noise (pink noise through a 300-3000 Hz band, amplitude-modulated at syllable rates).
    * ``hum`` - mains hum at 50 or 60 Hz with harmonics plus a little white noise.
    """
    if kind == "white":
        return rng.standard_normal(n).astype(np.float32)
    if kind == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0
        return np.fft.irfft(spec / np.sqrt(f), n).astype(np.float32)
    if kind == "babble":
        if sources:
            out = np.zeros(n, dtype=np.float32)
            for _ in range(int(rng.integers(3, 7))):
                src = sources[int(rng.integers(len(sources)))]
                if src.size == 0:
                    continue
                reps = np.tile(src, int(math.ceil(n / src.size)) + 1)
                start = int(rng.integers(src.size))
                seg = reps[start : start + n]
                out += seg / max(float(np.sqrt(power(seg))), 1e-8)
            if power(out) > 0:
                return out
        pink = _t(make_noise("pink", n, rng))
        shaped = AF.lowpass_biquad(
            AF.highpass_biquad(pink, SAMPLE_RATE, 300.0), SAMPLE_RATE, 3000.0
        )
        t = np.arange(n) / SAMPLE_RATE
        env = np.ones(n)
        for _ in range(4):  # several talkers, each with its own syllable rhythm
            rate, phase = rng.uniform(3.0, 6.0), rng.uniform(0, 2 * math.pi)
            env += 0.6 * np.abs(np.sin(math.pi * rate * t + phase))
        return (shaped.numpy() * env).astype(np.float32)
    if kind == "hum":
        mains = 50.0 if rng.random() < 0.5 else 60.0
        t = np.arange(n) / SAMPLE_RATE
        out = sum(
            (0.5**h) * np.sin(2 * math.pi * mains * (h + 1) * t + rng.uniform(0, 2 * math.pi))
            for h in range(5)
        )
        return (out + 0.05 * rng.standard_normal(n)).astype(np.float32)
    raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(NOISE_KINDS)})")


def add_noise(
    audio: np.ndarray,
    snr: float,
    kind: str = "white",
    seed: int = 0,
    sources: list[np.ndarray] | None = None,
) -> np.ndarray:
    """``audio`` plus ``kind`` noise scaled so that the SNR is exactly ``snr`` dB."""
    rng = np.random.default_rng(seed)
    noise = make_noise(kind, audio.size, rng, sources)
    noise = noise - noise.mean()
    p_sig, p_noise = power(audio), power(noise)
    if p_sig == 0 or p_noise == 0:
        return audio.astype(np.float32)
    scale = math.sqrt(p_sig / (p_noise * 10.0 ** (snr / 10.0)))
    return (audio + scale * noise).astype(np.float32)


def synthetic_rir(rt60: float, seed: int = 0, direct_to_reverb_db: float = 3.0) -> np.ndarray:
    """Room impulse response: a direct path, a few early reflections, and exponentially
    decaying noise whose energy falls 60 dB in ``rt60`` seconds."""
    rng = np.random.default_rng(seed)
    n = max(int(rt60 * SAMPLE_RATE * 1.2), 16)
    t = np.arange(n) / SAMPLE_RATE
    decay = np.exp(-6.9078 * t / rt60)  # amplitude: 60 dB energy drop at rt60
    tail = rng.standard_normal(n) * decay
    onset = int(0.002 * SAMPLE_RATE)
    tail[:onset] = 0.0
    for _ in range(6):  # early reflections within 5-40 ms
        k = int(rng.uniform(0.005, 0.04) * SAMPLE_RATE)
        if k < n:
            tail[k] += rng.uniform(-1, 1) * decay[k] * 3.0
    tail_energy = float(np.sum(tail**2))
    rir = tail * math.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / max(tail_energy, 1e-12))
    rir[0] = 1.0
    return rir.astype(np.float32)


def reverberate(audio: np.ndarray, rt60: float, seed: int = 0) -> np.ndarray:
    """Convolve with :func:`synthetic_rir`; same length, same RMS as the input."""
    rir = synthetic_rir(rt60, seed)
    wet = AF.fftconvolve(_t(audio), _t(rir))[: audio.size].numpy()
    return _match_rms(wet, audio)


def band_limit(audio: np.ndarray, kind: str) -> np.ndarray:
    """``telephone`` (300-3400 Hz), ``cheap_mic`` (150-6000 Hz with a presence peak) or
    ``dictaphone`` (100-7000 Hz, warm low shelf)."""
    x = _t(audio)
    if kind == "telephone":
        for _ in range(2):  # 4th-order band edges
            x = AF.lowpass_biquad(AF.highpass_biquad(x, SAMPLE_RATE, 300.0), SAMPLE_RATE, 3400.0)
    elif kind == "cheap_mic":
        x = AF.lowpass_biquad(AF.highpass_biquad(x, SAMPLE_RATE, 150.0), SAMPLE_RATE, 6000.0)
        x = AF.equalizer_biquad(x, SAMPLE_RATE, 2500.0, gain=6.0, Q=1.0)
    elif kind == "dictaphone":
        x = AF.lowpass_biquad(AF.highpass_biquad(x, SAMPLE_RATE, 100.0), SAMPLE_RATE, 7000.0)
        x = AF.bass_biquad(x, SAMPLE_RATE, gain=4.0, central_freq=200.0)
    else:
        raise ValueError(f"unknown band limit {kind!r}")
    return _match_rms(x.numpy(), audio)


def speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Speed perturbation by resampling (tempo and pitch together), as in Kaldi recipes."""
    if abs(factor - 1.0) < 1e-4:
        return audio
    src = int(round(SAMPLE_RATE * factor / 10.0)) * 10
    return AF.resample(_t(audio), src, SAMPLE_RATE).numpy().astype(np.float32)


def clip(audio: np.ndarray, level: float) -> np.ndarray:
    """Hard clipping at ``level`` times the peak."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return np.clip(audio, -level * peak, level * peak).astype(np.float32)


def _match_rms(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    p = power(x)
    return (x * math.sqrt(power(ref) / p) if p > 0 else x).astype(np.float32)


@dataclass
class AugmentPolicy:
    """Probabilities and ranges for :func:`sample_augmentation`."""

    p_clean: float = 0.25
    p_speed: float = 0.3
    speed_range: tuple[float, float] = (0.9, 1.1)
    p_reverb: float = 0.4
    rt60_range: tuple[float, float] = (0.15, 0.8)
    p_band: float = 0.35
    p_noise: float = 0.6
    snr_range: tuple[float, float] = (5.0, 30.0)
    p_clip: float = 0.1
    gain_db_range: tuple[float, float] = (-18.0, 0.0)


def sample_augmentation(seed: int, policy: AugmentPolicy | None = None) -> list[dict[str, Any]]:
    """A random augmentation chain (list of steps) drawn from ``seed``; [] means clean."""
    p = policy or AugmentPolicy()
    rng = np.random.default_rng(seed)
    if rng.random() < p.p_clean:
        return []
    steps: list[dict[str, Any]] = []
    if rng.random() < p.p_speed:
        steps.append({"op": "speed", "factor": round(float(rng.uniform(*p.speed_range)), 3)})
    if rng.random() < p.p_reverb:
        steps.append(
            {
                "op": "reverb",
                "rt60": round(float(rng.uniform(*p.rt60_range)), 3),
                "seed": int(rng.integers(2**31)),
            }
        )
    if rng.random() < p.p_band:
        kind = str(rng.choice(["telephone", "cheap_mic", "dictaphone"]))
        steps.append({"op": "band", "kind": kind})
    if rng.random() < p.p_noise:
        steps.append(
            {
                "op": "noise",
                "kind": str(rng.choice(list(NOISE_KINDS), p=[0.3, 0.3, 0.3, 0.1])),
                "snr_db": round(float(rng.uniform(*p.snr_range)), 2),
                "seed": int(rng.integers(2**31)),
            }
        )
    if rng.random() < p.p_clip:
        steps.append({"op": "clip", "level": round(float(rng.uniform(0.3, 0.8)), 3)})
    steps.append({"op": "gain", "db": round(float(rng.uniform(*p.gain_db_range)), 2)})
    return steps


def apply_augmentation(
    audio: np.ndarray, steps: list[dict[str, Any]], sources: list[np.ndarray] | None = None
) -> np.ndarray:
    """Replay ``steps`` (from :func:`sample_augmentation`) on 16 kHz ``audio``; result in
    [-1, 1]. ``sources`` feeds babble noise."""
    x = np.asarray(audio, dtype=np.float32)
    for step in steps:
        op = step["op"]
        if op == "speed":
            x = speed(x, float(step["factor"]))
        elif op == "reverb":
            x = reverberate(x, float(step["rt60"]), int(step["seed"]))
        elif op == "band":
            x = band_limit(x, str(step["kind"]))
        elif op == "noise":
            x = add_noise(x, float(step["snr_db"]), str(step["kind"]), int(step["seed"]), sources)
        elif op == "clip":
            x = clip(x, float(step["level"]))
        elif op == "gain":
            peak = float(np.max(np.abs(x))) if x.size else 0.0
            x = x * (10.0 ** (float(step["db"]) / 20.0) * 0.95 / max(peak, 1e-8))
        else:
            raise ValueError(f"unknown augmentation step {op!r}")
    return np.clip(x, -1.0, 1.0).astype(np.float32)
