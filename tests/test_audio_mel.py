"""Whisper log-mel front end against an independent numpy reference; streaming = whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radvoice.audio.errors import AudioError
from radvoice.audio.mel import log_mel_spectrogram, mel_filters
from radvoice.audio.streaming_mel import StreamingLogMel


# ----------------------------------------------------------------- numpy reference
def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(
        f >= min_log_hz,
        min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep,
        f / f_sp,
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def _slaney_filters(n_mels: int, sr: int = 16000, n_fft: int = 400) -> np.ndarray:
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, fft_freqs.size))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def _reference_log_mel(audio: np.ndarray, n_mels: int = 80, padding: int = 0) -> np.ndarray:
    x = np.concatenate([audio.astype(np.float64), np.zeros(padding)])
    padded = np.pad(x, 200, mode="reflect")
    n_frames = 1 + (padded.size - 400) // 160
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann
    frames = np.stack([padded[t * 160 : t * 160 + 400] * window for t in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # (frames, 201)
    power = power[:-1].T  # whisper drops the last frame
    log_spec = np.log10(np.maximum(_slaney_filters(n_mels) @ power, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 720, 2500), 1))
    x = 0.2 * envelope * tone + 0.01 * rng.standard_normal(n)
    x[: n // 5] *= 0.001  # a quiet start: the running max is lower there
    return x.astype(np.float32)


# ----------------------------------------------------------------- whole utterance
def test_filterbank_matches_reference_slaney() -> None:
    ours = mel_filters(80).numpy()
    assert ours.shape == (80, 201)
    np.testing.assert_allclose(ours, _slaney_filters(80), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("n,padding,n_mels", [(16000, 0, 80), (12345, 0, 80), (4000, 800, 128)])
def test_log_mel_matches_numpy_reference(n: int, padding: int, n_mels: int) -> None:
    audio = _speechlike(n)
    ours = log_mel_spectrogram(audio, n_mels=n_mels, padding=padding)
    ref = _reference_log_mel(audio, n_mels=n_mels, padding=padding)
    assert ours.dtype == torch.float32
    assert tuple(ours.shape) == ref.shape == (n_mels, (n + padding) // 160)
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-4)


def test_log_mel_dynamic_range_and_scaling() -> None:
    mel = log_mel_spectrogram(_speechlike(8000))
    assert float(mel.max() - mel.min()) <= 2.0 + 1e-6  # 8 log10 units / 4
    silence = log_mel_spectrogram(np.zeros(3200, np.float32))
    assert torch.allclose(silence, torch.full_like(silence, (-10.0 + 4.0) / 4.0))


def test_log_mel_rejects_bad_input() -> None:
    with pytest.raises(AudioError):
        log_mel_spectrogram(np.zeros(150, np.float32))
    with pytest.raises(AudioError, match="mono"):
        log_mel_spectrogram(np.zeros((2, 16000), np.float32))


# ----------------------------------------------------------------- streaming
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_equals_whole_for_random_chunking(seed: int) -> None:
    rng = np.random.default_rng(seed)
    audio = _speechlike(16000 + int(rng.integers(0, 500)), seed)
    whole = log_mel_spectrogram(audio)
    stream = StreamingLogMel()
    pieces, pos = [], 0
    while pos < audio.size:
        size = int(rng.choice([1, 7, 160, 333, 1024, 2500]))
        pieces.append(stream.push(audio[pos : pos + size]))
        pos += size
    pieces.append(stream.finish())
    emitted = torch.cat(pieces, dim=1)
    assert emitted.shape == whole.shape
    torch.testing.assert_close(stream.log_mel(), whole, atol=1e-6, rtol=0)
    # frames emitted once the running max had reached the final max are final already
    raw_max = float(whole.max()) * 4 - 4
    assert stream.running_max == pytest.approx(raw_max, abs=1e-5)
    settled = 0
    start = 0
    for piece in pieces:
        k = piece.shape[1]
        if k and float(piece.max()) * 4 - 4 >= raw_max - 1e-5:
            settled = start
            break
        start += k
    torch.testing.assert_close(emitted[:, settled:], whole[:, settled:], atol=1e-6, rtol=0)


def test_streaming_lookahead_is_one_window() -> None:
    audio = _speechlike(4000)
    stream = StreamingLogMel()
    assert stream.push(audio[:200]).shape[1] == 0  # frame 0 needs sample 200 (reflection)
    assert stream.push(audio[200:201]).shape[1] == 1
    for n in (359, 360, 361, 1000, 3999):
        stream = StreamingLogMel()
        stream.push(audio[:n])
        assert stream.n_frames == (n - 200) // 160 + 1  # frame t ready at sample 160 t + 200


def test_streaming_padding_matches_whisper_padding() -> None:
    audio = _speechlike(5000)
    stream = StreamingLogMel()
    stream.push(audio)
    stream.finish(padding=1600)
    torch.testing.assert_close(
        stream.log_mel(), log_mel_spectrogram(audio, padding=1600), atol=1e-6, rtol=0
    )


def test_streaming_reset_and_errors() -> None:
    stream = StreamingLogMel()
    stream.push(np.zeros(100, np.float32))
    with pytest.raises(AudioError):
        stream.finish()
    stream.reset()
    stream.push(_speechlike(1000))
    stream.finish()
    with pytest.raises(AudioError, match="finished"):
        stream.push(np.zeros(10, np.float32))
    assert stream.n_frames == 1000 // 160
