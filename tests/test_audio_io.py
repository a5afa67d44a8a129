"""File loading, streaming resampler, ring buffer, meters, settings and auto-repeat logic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF

from radvoice.audio import AudioReadError, AutoRepeatFilter, load_audio
from radvoice.audio.backend import InputDevice, candidate_rates
from radvoice.audio.errors import MicrophoneUnavailableError
from radvoice.audio.levels import LevelMeter, to_dbfs
from radvoice.audio.resampler import StreamResampler
from radvoice.audio.ring import RingBuffer
from radvoice.audio.settings import MicrophoneSettings, choose_device
from radvoice.audio.speech_check import energy_speech_seconds
from radvoice.audio.utterance import TalkMode
from radvoice.errors import RadVoiceError


def _tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "rate,channels,fmt,subtype",
    [(16000, 1, "WAV", "PCM_16"), (44100, 2, "WAV", "PCM_16"), (48000, 2, "WAV", "FLOAT"),
     (8000, 1, "FLAC", "PCM_24"), (22050, 3, "OGG", "VORBIS")],
)  # fmt: skip
def test_load_audio_any_rate_channels_format(
    tmp_path: Path, rate: int, channels: int, fmt: str, subtype: str
) -> None:
    mono = _tone(rate, 0.5)
    data = np.stack([mono * (1.0 if c == 0 else 0.5) for c in range(channels)], axis=1)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, data, rate, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == pytest.approx(8000, abs=2)
    mix = data.mean(axis=1)
    expected = AF.resample(torch.from_numpy(mix.astype(np.float32)), rate, 16000).numpy()
    tol = 0.05 if subtype == "VORBIS" else 1e-3
    n = min(expected.size, audio.size)
    assert np.max(np.abs(audio[:n] - expected[:n])) < tol
    # the dominant frequency survives resampling
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / audio.size - 440) < 5


def test_load_audio_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(AudioReadError, match="not found"):
        load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00not audio at all" * 10)
    with pytest.raises(RadVoiceError) as info:
        load_audio(junk)
    assert "\n" not in str(info.value) and "junk.wav" in str(info.value)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioReadError, match="no audio"):
        load_audio(empty)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_stream_resampler_equals_one_shot(rate: int) -> None:
    rng = np.random.default_rng(rate)
    x = rng.standard_normal(rate // 3 + 11).astype(np.float32)
    whole = AF.resample(torch.from_numpy(x), rate, 16000).numpy()
    resampler = StreamResampler(rate)
    out, pos = [], 0
    while pos < x.size:
        size = int(rng.integers(1, 1500))
        out.append(resampler.process(x[pos : pos + size]))
        pos += size
    out.append(resampler.flush())
    y = np.concatenate(out)
    assert y.shape == whole.shape
    np.testing.assert_allclose(y, whole, atol=2e-6)


def test_ring_buffer_keeps_latest() -> None:
    ring = RingBuffer(10)
    ring.write(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(ring.latest(10), np.arange(4))
    ring.write(np.arange(4, 13, dtype=np.float32))
    np.testing.assert_array_equal(ring.latest(10), np.arange(3, 13))
    np.testing.assert_array_equal(ring.latest(3), [10, 11, 12])
    ring.write(np.arange(100, 125, dtype=np.float32))
    np.testing.assert_array_equal(ring.latest(10), np.arange(115, 125))
    ring.clear()
    assert ring.latest(5).size == 0


def test_level_meter_rate_dbfs_and_clipping() -> None:
    meter = LevelMeter(48000, rate_hz=25)
    sine = _tone(48000, 1.0)  # amplitude 0.5: peak -6.0 dBFS, RMS -9.0 dBFS
    readings = []
    for pos in range(0, sine.size, 441):
        readings += meter.add(sine[pos : pos + 441], now=0.0)
    assert len(readings) == 25
    assert readings[5].peak_dbfs == pytest.approx(-6.02, abs=0.05)
    assert readings[5].rms_dbfs == pytest.approx(-9.03, abs=0.05)
    assert not any(r.clipped for r in readings)
    loud = np.clip(sine * 4, -1, 1)
    assert all(r.clipped for r in meter.add(loud[:19200], now=1.0))
    assert to_dbfs(0.0) == -100.0


def test_energy_speech_detection() -> None:
    rng = np.random.default_rng(0)
    noise = (0.001 * rng.standard_normal(16000)).astype(np.float32)
    assert energy_speech_seconds(noise, 16000) == 0.0
    speech = noise.copy()
    speech[4000:12000] += _tone(16000, 0.5)
    assert energy_speech_seconds(speech, 16000) == pytest.approx(0.5, abs=0.05)
    assert energy_speech_seconds(_tone(16000, 1.0), 16000) == pytest.approx(1.0)
    hum = (0.03 * _tone(16000, 1.0, 50)).astype(np.float32)  # a noisy room, no speech
    assert energy_speech_seconds(hum, 16000) == pytest.approx(1.0)
    assert energy_speech_seconds(hum, 16000, noise_floor_dbfs=-27.5) == 0.0
    speech_in_hum = hum.copy()
    speech_in_hum[:8000] += _tone(16000, 0.5, 300)
    assert energy_speech_seconds(speech_in_hum, 16000, noise_floor_dbfs=-27.5) == pytest.approx(
        0.5, abs=0.03
    )


def test_settings_persist_and_survive_damage(tmp_path: Path) -> None:
    assert MicrophoneSettings.load(tmp_path) == MicrophoneSettings()
    MicrophoneSettings("USB mic", TalkMode.TOGGLE).save(tmp_path)
    assert MicrophoneSettings.load(tmp_path) == MicrophoneSettings("USB mic", TalkMode.TOGGLE)
    (tmp_path / "microphone.json").write_text("{not json")
    assert MicrophoneSettings.load(tmp_path) == MicrophoneSettings()


def test_choose_device_and_rate_candidates() -> None:
    a = InputDevice(0, "Built-in", "ALSA", 2, 44100, is_default=True)
    b = InputDevice(1, "USB mic", "ALSA", 1, 16000)
    assert choose_device([a, b], "USB mic") is b
    assert choose_device([a, b], "gone") is a
    assert choose_device([b], None) is b
    with pytest.raises(MicrophoneUnavailableError, match="no microphone"):
        choose_device([], None)
    assert candidate_rates(a)[:3] == [44100, 48000, 16000]


class _ManualTimer:
    def __init__(self, delay: float, fn) -> None:  # noqa: ANN001
        self.fn, self.cancelled = fn, False
        _ManualTimer.last = self

    def cancel(self) -> None:
        self.cancelled = True


def test_autorepeat_filter_x11_pairs_and_unflagged_repeats() -> None:
    events: list[str] = []
    f = AutoRepeatFilter(lambda: events.append("press"), lambda: events.append("release"))
    f.key_press()
    for _ in range(20):  # X11: a held key repeats as flagged release+press pairs
        f.key_release(auto_repeat=True)
        f.key_press(auto_repeat=True)
    assert events == ["press"] and f.held
    f.key_release()
    assert events == ["press", "release"] and not f.held
    f.key_release()  # a stray release does nothing
    assert events == ["press", "release"]

    events.clear()
    g = AutoRepeatFilter(
        lambda: events.append("press"),
        lambda: events.append("release"),
        release_grace_s=0.05,
        timer_factory=_ManualTimer,
    )
    g.key_press()
    g.key_release()  # unflagged repeat: held back ...
    g.key_press()  # ... and cancelled by the press that follows
    assert _ManualTimer.last.cancelled and events == ["press"]
    g.key_release()
    _ManualTimer.last.fn()  # the grace time passes: a real release
    assert events == ["press", "release"]
    g.key_press()
    g.reset()  # focus lost while held
    assert events == ["press", "release", "press", "release"]
