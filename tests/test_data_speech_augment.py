"""Augmentation: exact SNR, RT60 of the synthetic rooms, band limits, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from radvoice.data import augment as aug

SR = 16_000


@pytest.fixture(scope="module")
def speechlike() -> np.ndarray:
    """2 s of a voiced, syllable-modulated signal (no TTS needed)."""
    t = np.arange(2 * SR) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    return (0.3 * voiced * env).astype(np.float32)


@pytest.mark.parametrize("kind", aug.NOISE_KINDS)
@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_noise_reaches_requested_snr(speechlike: np.ndarray, kind: str, snr: float) -> None:
    noisy = aug.add_noise(speechlike, snr, kind, seed=3)
    assert noisy.shape == speechlike.shape and noisy.dtype == np.float32
    assert abs(aug.snr_db(speechlike, noisy) - snr) < 0.5


def test_babble_from_other_utterances(speechlike: np.ndarray) -> None:
    others = [np.roll(speechlike, k * 997) * (k + 1) for k in range(5)]
    noisy = aug.add_noise(speechlike, 5.0, "babble", seed=1, sources=others)
    assert abs(aug.snr_db(speechlike, noisy) - 5.0) < 0.5
    fallback = aug.add_noise(speechlike, 5.0, "babble", seed=1)
    assert not np.allclose(noisy, fallback)


def test_noise_is_deterministic_from_seed(speechlike: np.ndarray) -> None:
    a = aug.add_noise(speechlike, 10.0, "pink", seed=7)
    b = aug.add_noise(speechlike, 10.0, "pink", seed=7)
    c = aug.add_noise(speechlike, 10.0, "pink", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError):
        aug.add_noise(speechlike, 10.0, "traffic")


def _rt60_schroeder(rir: np.ndarray) -> float:
    """RT60 from the Schroeder curve's -5 to -25 dB slope (T20 x 3)."""
    energy = np.cumsum(rir[::-1] ** 2)[::-1]
    db = 10 * np.log10(energy / energy[0] + 1e-30)
    i5, i25 = np.argmax(db <= -5), np.argmax(db <= -25)
    return 3.0 * (i25 - i5) / SR


@pytest.mark.parametrize("rt60", [0.2, 0.5, 0.9])
def test_synthetic_rir_has_requested_rt60(rt60: float) -> None:
    rir = aug.synthetic_rir(rt60, seed=2, direct_to_reverb_db=-10.0)
    assert rir[0] == 1.0
    assert abs(_rt60_schroeder(rir[int(0.005 * SR) :]) - rt60) < 0.2 * rt60


def test_reverb_keeps_length_and_level(speechlike: np.ndarray) -> None:
    wet = aug.reverberate(speechlike, 0.6, seed=1)
    assert wet.shape == speechlike.shape
    assert aug.power(wet) == pytest.approx(aug.power(speechlike), rel=1e-3)
    assert not np.allclose(wet, speechlike, atol=1e-3)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float(spec[(f >= lo) & (f < hi)].sum())


def test_telephone_band_limit() -> None:
    white = np.random.default_rng(0).standard_normal(SR * 2).astype(np.float32) * 0.1
    tel = aug.band_limit(white, "telephone")

    def rel_db(lo: float, hi: float) -> float:
        return 10 * np.log10(_band_energy(tel, lo, hi) / _band_energy(white, lo, hi))

    passband = rel_db(800, 2500)
    assert rel_db(20, 120) < passband - 20
    assert rel_db(5500, 8000) < passband - 20
    for kind in ("cheap_mic", "dictaphone"):
        assert aug.band_limit(white, kind).shape == white.shape
    with pytest.raises(ValueError):
        aug.band_limit(white, "radio")


def test_speed_clip_and_chain(speechlike: np.ndarray) -> None:
    assert aug.speed(speechlike, 1.1).size == pytest.approx(speechlike.size / 1.1, rel=0.01)
    clipped = aug.clip(speechlike, 0.5)
    assert np.abs(clipped).max() <= 0.5 * np.abs(speechlike).max() + 1e-6
    chains = [aug.sample_augmentation(s) for s in range(200)]
    assert chains[5] == aug.sample_augmentation(5)
    ops = {step["op"] for chain in chains for step in chain}
    assert ops == {"speed", "reverb", "band", "noise", "clip", "gain"}
    assert 0.1 < sum(not c for c in chains) / len(chains) < 0.4  # p_clean = 0.25
    chain = next(c for c in chains if len(c) >= 4)
    a = aug.apply_augmentation(speechlike, chain)
    np.testing.assert_array_equal(a, aug.apply_augmentation(speechlike, chain))
    assert np.abs(a).max() <= 1.0 and np.isfinite(a).all()
    gain = aug.apply_augmentation(speechlike, [{"op": "gain", "db": -6.0}])
    assert np.abs(gain).max() == pytest.approx(0.95 * 10 ** (-6 / 20), rel=1e-4)
