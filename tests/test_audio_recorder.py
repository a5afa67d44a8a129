"""Push-to-talk recorder state machine on a fake stream backend (fast, deterministic)."""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import torchaudio.functional as AF
from audio_support import FakeBackend

from radvoice.audio import (
    AudioChunk,
    EndReason,
    PushToTalkRecorder,
    RecorderConfig,
    RecorderState,
    StreamingLogMel,
    TalkMode,
    Utterance,
    Verdict,
    log_mel_spectrogram,
)
from radvoice.audio.backend import InputDevice

RATE = 48_000


def tone(seconds: float, amp: float = 0.3, freq: float = 300.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, amp: float = 3e-4, seed: int = 0, rate: int = RATE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal(int(rate * seconds))).astype(np.float32)


class Harness:
    def __init__(self, backend: FakeBackend, config: RecorderConfig, config_dir: Path) -> None:
        self.backend = backend
        self.rec = PushToTalkRecorder(backend, config, config_dir=config_dir)
        self.utterances: list[Utterance] = []
        self.states: list[tuple[RecorderState, str]] = []
        self.levels = []
        self.rec.on_utterance(self.utterances.append)
        self.rec.on_state(lambda s, m: self.states.append((s, m)))
        self.rec.on_level(self.levels.append)

    def feed(self, signal: np.ndarray) -> None:
        self.backend.stream.feed(signal)
        assert self.rec.sync()

    def do(self, action: str) -> None:
        getattr(self.rec, action)()
        assert self.rec.sync()


@pytest.fixture
def make(tmp_path: Path) -> Iterator:
    made: list[Harness] = []

    def factory(backend: FakeBackend | None = None, **overrides: object) -> Harness:
        cfg = RecorderConfig(watchdog_s=None, retry_s=0.05, max_retry_s=0.2)
        for key, value in overrides.items():
            setattr(cfg, key, value)
        h = Harness(backend or FakeBackend(), cfg, tmp_path / "config")
        h.rec.start()
        assert h.rec.sync()
        made.append(h)
        return h

    yield factory
    for h in made:
        h.rec.stop()


def test_preroll_tail_and_streamed_chunks(make) -> None:
    h = make()
    sub = h.rec.subscribe()
    before = np.concatenate(
        [noise(0.6), tone(0.4, freq=700)]
    )  # the first syllable precedes the press
    speech = tone(1.0)
    after = np.concatenate([tone(0.1, freq=500), noise(0.6, seed=1)])
    h.feed(before)
    assert h.rec.state is RecorderState.IDLE
    h.do("press")
    assert h.rec.state is RecorderState.LISTENING
    h.feed(speech[: RATE // 2])
    streamed_early = sub.qsize()
    assert streamed_early >= 10  # chunks reach consumers while the key is held
    assert h.rec.elapsed_s == pytest.approx(0.5, abs=0.01)
    h.feed(speech[RATE // 2 :])
    h.do("release")
    assert h.rec.state is RecorderState.FINISHING
    h.feed(after)
    assert h.rec.state is RecorderState.IDLE
    (utt,) = h.utterances
    assert utt.reason is EndReason.RELEASED and utt.verdict is Verdict.SPEECH and utt.heard
    assert utt.sample_rate == 16000 and utt.audio.dtype == np.float32
    assert utt.pre_roll_s == pytest.approx(0.4) and utt.tail_s == pytest.approx(0.3)
    assert utt.duration == pytest.approx(0.4 + 1.0 + 0.3, abs=0.002)
    assert utt.message == f"heard {utt.duration:.1f} s"
    # the pre-roll is the 700 Hz syllable that was spoken before the press
    pre = utt.audio[: int(0.3 * 16000)]
    spectrum = np.abs(np.fft.rfft(pre))
    assert abs(np.argmax(spectrum) * 16000 / pre.size - 700) < 5
    # the utterance is exactly the resampled input stream (no gaps, no duplicates)
    whole = AF.resample(torch.from_numpy(np.concatenate([before, speech, after])), RATE, 16000)
    whole = whole.numpy()
    start = int(
        np.argmin(
            [np.abs(whole[k : k + 2000] - utt.audio[:2000]).max() for k in range(9000, 10200)]
        )
    )
    np.testing.assert_allclose(
        whole[9000 + start : 9000 + start + utt.audio.size], utt.audio, atol=1e-5
    )
    # the queue got the same samples, in order, then a final marker
    chunks: list[AudioChunk] = []
    while not sub.empty():
        chunks.append(sub.get_nowait())
    assert chunks[-1].final and all(not c.final for c in chunks[:-1])
    assert [c.start for c in chunks[:-1]] == list(
        np.cumsum([0] + [c.samples.size for c in chunks[:-2]])
    )
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), utt.audio)
    # level meter: 25 readings per second of audio, RMS of a 0.3 sine ≈ -13.5 dBFS
    assert len(h.levels) == pytest.approx(25 * 2.7, abs=1)  # 2.7 s of audio fed
    loud = [lv.rms_dbfs for lv in h.levels[30:50]]
    assert np.median(loud) == pytest.approx(-13.5, abs=0.5)


def test_streaming_encoder_consumer_gets_final_mel(make) -> None:
    h = make()
    mel = StreamingLogMel()
    frames_before_release: list[int] = []
    h.rec.on_chunk(lambda c: mel.finish() if c.final else mel.push(c.samples))
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(0.8))
    frames_before_release.append(mel.n_frames)
    h.do("release")
    h.feed(noise(0.5, seed=2))
    (utt,) = h.utterances
    assert frames_before_release[0] >= int((0.4 + 0.8) * 100) - 2
    torch.testing.assert_close(mel.log_mel(), log_mel_spectrogram(utt.audio), atol=1e-6, rtol=0)


def test_toggle_mode(make, tmp_path: Path) -> None:
    h = make()
    h.rec.set_mode(TalkMode.TOGGLE)
    h.feed(noise(0.5))
    h.do("press")
    h.do("release")  # ignored in toggle mode
    h.feed(tone(1.0))
    assert h.rec.state is RecorderState.LISTENING
    h.do("press")
    h.feed(noise(0.5))
    (utt,) = h.utterances
    assert utt.verdict is Verdict.SPEECH and utt.reason is EndReason.RELEASED
    assert '"toggle"' in (tmp_path / "config" / "microphone.json").read_text()


def test_maximum_length_ends_cleanly(make) -> None:
    h = make(max_length_s=0.5)
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(1.2))  # still held past the maximum
    (utt,) = h.utterances
    assert utt.reason is EndReason.MAX_LENGTH and h.rec.state is RecorderState.IDLE
    assert utt.duration == pytest.approx(0.4 + 0.5, abs=1e-3)
    assert utt.heard and "maximum length" in utt.message
    assert utt.speech_s == pytest.approx(0.5, abs=0.03)
    h.do("release")  # the release of that hold must not start or end anything
    h.feed(tone(0.2))
    assert len(h.utterances) == 1 and h.rec.state is RecorderState.IDLE
    h.do("press")
    h.feed(tone(0.4))
    h.do("release")
    h.feed(noise(0.4))
    assert len(h.utterances) == 2 and h.utterances[1].reason is EndReason.RELEASED


def test_silence_is_nothing_heard(make) -> None:
    h = make()
    h.feed(noise(0.5))
    h.do("press")
    h.feed(noise(1.5, seed=3))
    h.do("release")
    h.feed(noise(0.4))
    (utt,) = h.utterances
    assert utt.verdict is Verdict.SILENCE and not utt.heard
    assert utt.message == "nothing heard"
    assert h.states[-1] == (RecorderState.IDLE, "nothing heard")


def test_too_short(make) -> None:
    h = make()
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(0.1))
    h.do("release")
    h.feed(noise(0.4))
    (utt,) = h.utterances
    assert utt.verdict is Verdict.TOO_SHORT and "too short" in utt.message


def test_clipping_is_reported(make) -> None:
    h = make()
    h.feed(noise(0.5))
    h.do("press")
    h.feed(np.clip(tone(1.0, amp=2.0), -1, 1))
    h.do("release")
    h.feed(noise(0.4))
    (utt,) = h.utterances
    assert utt.clipped and "clipped" in utt.message
    assert any(level.clipped for level in h.levels)


def test_sample_rate_fallback() -> None:
    backend = FakeBackend([InputDevice(0, "Headset", "ALSA", 1, 16000, True)])
    backend.refused_rates = {16000}
    h = Harness(backend, RecorderConfig(watchdog_s=None), None)
    h.rec.start()
    try:
        assert h.rec.sync()
        assert h.rec.stream_rate == 48000 and h.rec.state is RecorderState.IDLE
        h.feed(noise(0.5))
        h.do("press")
        h.feed(tone(1.0))
        h.do("release")
        h.feed(noise(0.5))
        assert h.utterances[0].duration == pytest.approx(1.7, abs=0.002)
    finally:
        h.rec.stop()


def test_no_device_then_device_appears(make) -> None:
    backend = FakeBackend([])
    h = make(backend)
    assert h.rec.state is RecorderState.ERROR
    assert h.rec.message == "microphone unavailable: no microphone found"
    h.do("press")  # nothing to record with: stays in error, no utterance, no exception
    assert h.rec.state is RecorderState.ERROR and not h.utterances
    backend.devices = [InputDevice(3, "USB mic", "ALSA", 1, 44100, True)]
    for _ in range(100):
        if h.rec.state is RecorderState.IDLE:
            break
        threading.Event().wait(0.02)
    assert h.rec.state is RecorderState.IDLE and backend.refreshes >= 1
    assert h.rec.stream_rate == 44100
    h.feed(noise(0.5, rate=44100))
    h.do("press")
    h.feed(tone(1.0, rate=44100))
    h.do("release")
    h.feed(noise(0.5, rate=44100))
    assert h.utterances[0].heard


def test_device_lost_mid_utterance_and_recovery(make) -> None:
    backend = FakeBackend()
    h = make(backend)
    device = backend.devices[0]
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(0.7))
    backend.devices = []  # unplugged ...
    backend.stream.die()  # ... and PortAudio ends the stream
    assert h.rec.sync()
    (utt,) = h.utterances
    assert utt.reason is EndReason.DEVICE_LOST and utt.message == "microphone unavailable"
    assert utt.duration == pytest.approx(1.1, abs=0.002)  # what was captured is kept
    assert h.rec.state is RecorderState.ERROR and "stopped" in h.rec.message
    assert (RecorderState.IDLE, "microphone unavailable") not in h.states
    h.do("release")  # the user lets go: nothing breaks
    backend.devices = [device]  # plugged back in
    for _ in range(100):
        if h.rec.state is RecorderState.IDLE:
            break
        threading.Event().wait(0.02)
    assert h.rec.state is RecorderState.IDLE and len(backend.streams) == 2
    assert backend.streams[0].closed
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(0.7))
    h.do("release")
    h.feed(noise(0.4))
    assert h.utterances[-1].heard and h.utterances[-1].reason is EndReason.RELEASED


def test_watchdog_detects_a_silent_dead_stream(make) -> None:
    h = make(watchdog_s=0.15, retry_s=10.0)
    h.feed(noise(0.1))  # the stream delivered, then went quiet
    for _ in range(100):
        if h.rec.state is RecorderState.ERROR:
            break
        threading.Event().wait(0.02)
    assert h.rec.state is RecorderState.ERROR and "no audio" in h.rec.message
    h.do("press")  # a press retries at once
    assert h.rec.state is RecorderState.LISTENING


def test_device_choice_is_persisted(tmp_path: Path, make) -> None:
    devices = [
        InputDevice(0, "Built-in", "ALSA", 2, 48000, True),
        InputDevice(1, "PowerMic", "ALSA", 1, 16000),
    ]
    h = make(FakeBackend(devices))
    assert h.rec.device is not None and h.rec.device.name == "Built-in"
    h.rec.select_device("PowerMic")
    assert h.rec.sync() and h.rec.device.name == "PowerMic"
    again = make(FakeBackend(devices))
    assert again.rec.device is not None and again.rec.device.name == "PowerMic"


def test_failing_consumer_does_not_stop_capture(make) -> None:
    h = make()

    def broken(_chunk: AudioChunk) -> None:
        raise RuntimeError("consumer bug")

    h.rec.on_chunk(broken)
    h.feed(noise(0.5))
    h.do("press")
    h.feed(tone(0.6))
    h.do("release")
    h.feed(noise(0.4))
    assert len(h.utterances) == 1 and h.utterances[0].heard


def test_200_cycles_no_thread_fd_or_memory_growth(make) -> None:
    h = make()
    proc = psutil.Process()
    speech, quiet = tone(0.3), noise(0.32)
    sub = h.rec.subscribe()

    def cycle() -> None:
        h.rec.press()
        h.backend.stream.feed(speech)
        h.rec.release()
        h.backend.stream.feed(quiet)

    heard = 0

    def drain() -> None:
        nonlocal heard
        assert h.rec.sync(30)
        heard += sum(u.heard for u in h.utterances)
        h.utterances.clear()  # the test must not be what holds memory
        h.levels.clear()
        while True:
            try:
                sub.get_nowait()
            except queue.Empty:
                break

    for _ in range(20):  # warm-up
        cycle()
    drain()
    gc.collect()
    threads, fds, rss = threading.active_count(), proc.num_fds(), proc.memory_info().rss
    for i in range(200):
        cycle()
        if i % 25 == 24:
            drain()
    drain()
    gc.collect()
    assert heard == 220
    assert threading.active_count() == threads
    assert proc.num_fds() == fds
    assert proc.memory_info().rss - rss < 10 * 2**20


@pytest.mark.slow
def test_silero_vad_rejects_a_loud_hum_and_accepts_speech(make, tmp_path: Path) -> None:
    from audio_support import espeak_wav

    from radvoice.audio import load_audio
    from radvoice.audio.speech_check import SileroVad

    if not SileroVad.available():
        pytest.skip("silero-vad is not installed")
    backend = FakeBackend([InputDevice(0, "Mic", "ALSA", 1, 16000, True)])
    h = make(backend, use_silero_vad=True)
    speech = load_audio(espeak_wav("Show me the left lower lobe.", tmp_path / "q.wav"))
    for signal in (tone(1.5, freq=220, rate=16000), speech):
        h.feed(noise(0.5, rate=16000))
        h.do("press")
        h.feed(signal)
        h.do("release")
        h.feed(noise(0.4, rate=16000))
    hum, spoken = h.utterances
    assert hum.verdict is Verdict.SILENCE and hum.message == "nothing heard"
    assert spoken.verdict is Verdict.SPEECH and spoken.speech_s > 0.5
