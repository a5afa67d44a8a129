"""Push-to-talk through a real PortAudio stream: a private PulseAudio null sink is the mic.

espeak-ng speech is played into the sink with paplay; the recorder captures the sink's monitor
through PortAudio's ALSA "pulse" device. Skipped only where PulseAudio cannot start (reason
printed); with RADVOICE_REQUIRE_AUDIO=1 or CI set, that is a failure instead.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from audio_support import (
    PulseServer,
    PulseUnavailable,
    align_and_correlate,
    espeak_wav,
    pulse_environment,
    skip_or_fail,
    start_pulse,
)

from radvoice.audio import (
    EndReason,
    Level,
    PushToTalkRecorder,
    RecorderConfig,
    RecorderState,
    Utterance,
    load_audio,
)

pytestmark = pytest.mark.audio

TEXT = "The patient has a small nodule in the right upper lobe."


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    try:
        with pulse_environment() as server:
            yield server
    except PulseUnavailable as err:
        skip_or_fail(err)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return espeak_wav(TEXT, tmp_path_factory.mktemp("wav") / "finding.wav")


class Live:
    """A recorder on the PulseAudio "pulse" device with collected events."""

    def __init__(self, config_dir: Path, **overrides: object) -> None:
        cfg = RecorderConfig()
        for key, value in overrides.items():
            setattr(cfg, key, value)
        self.rec = PushToTalkRecorder(config=cfg, config_dir=config_dir)
        self.rec.select_device("pulse")
        self.utterances: list[Utterance] = []
        self.levels: list[Level] = []
        self.done = threading.Event()
        self.rec.on_utterance(self._on_utt)
        self.rec.on_level(self.levels.append)

    def _on_utt(self, utt: Utterance) -> None:
        self.utterances.append(utt)
        self.done.set()

    def start(self) -> None:
        self.rec.start()
        wait_for(lambda: len(self.levels) > 0, 10, "no audio from the PulseAudio monitor")
        time.sleep(self.rec.config.pre_roll_s + 0.2)  # fill the pre-roll

    def utterance(self, timeout: float = 10.0) -> Utterance:
        assert self.done.wait(timeout), f"no utterance; state {self.rec.state}: {self.rec.message}"
        self.done.clear()
        return self.utterances[-1]


def wait_for(cond, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.01)


def test_loopback_capture_matches_played_speech(pulse: PulseServer, speech_wav: Path, tmp_path):
    live = Live(tmp_path)
    live.start()
    try:
        assert live.rec.state is RecorderState.IDLE and live.rec.device.name == "pulse"
        assert live.rec.stream_rate in (44100, 48000)  # the device's native rate
        live.rec.press()
        player = pulse.play(speech_wav)
        assert player.wait(20) == 0
        time.sleep(0.25)
        live.rec.release()
        utt = live.utterance()
    finally:
        live.rec.stop()
    reference = load_audio(speech_wav)
    lag, corr = align_and_correlate(utt.audio, reference)
    print(f"\nloopback: corr {corr:.4f}, lag {lag / 16000:.3f} s, {utt.message}")
    assert utt.heard and utt.reason is EndReason.RELEASED
    assert corr >= 0.95
    assert utt.pre_roll_s >= 0.3 and utt.tail_s >= 0.2
    assert lag >= int(0.3 * 16000)  # the speech came after the pre-roll ...
    assert lag + reference.size <= utt.audio.size  # ... and all of it is in the utterance
    # the meter ran at ≥ 20 readings per second of audio
    span = live.levels[-1].time - live.levels[0].time
    assert len(live.levels) / span >= 20


def test_press_after_onset_keeps_first_syllable(pulse: PulseServer, speech_wav: Path, tmp_path):
    live = Live(tmp_path)
    live.start()
    try:
        seen = len(live.levels)
        player = pulse.play(speech_wav)
        wait_for(
            lambda: any(lv.rms_dbfs > -35 for lv in live.levels[seen:]), 10, "speech never arrived"
        )
        live.rec.press()  # the user pressed late: speech had already started
        assert player.wait(20) == 0
        time.sleep(0.25)
        live.rec.release()
        utt = live.utterance()
    finally:
        live.rec.stop()
    reference = load_audio(speech_wav)
    lag, corr = align_and_correlate(utt.audio, reference)
    print(f"\nlate press: corr {corr:.4f}, lag {lag / 16000:.3f} s")
    assert corr >= 0.95 and lag >= 0  # the onset is inside the pre-roll


def test_real_stream_cycles_do_not_leak(pulse: PulseServer, speech_wav: Path, tmp_path):
    proc = psutil.Process()
    live = Live(tmp_path, min_press_s=0.05)
    live.start()
    live.rec.press()  # warm-up cycle
    live.rec.release()
    live.utterance()
    live.rec.stop()
    gc.collect()
    threads, fds = threading.active_count(), proc.num_fds()
    for _ in range(3):  # stream open/close
        live = Live(tmp_path, min_press_s=0.05)
        live.start()
        for _ in range(4):  # press/release on the open stream
            live.rec.press()
            time.sleep(0.1)
            live.rec.release()
            utt = live.utterance()
            assert utt.reason is EndReason.RELEASED
        live.rec.stop()
    gc.collect()
    time.sleep(0.2)
    assert threading.active_count() <= threads  # no growth (earlier tests' leftovers may end)
    assert proc.num_fds() <= fds


def test_server_loss_gives_error_then_recovers(pulse: PulseServer, speech_wav: Path, tmp_path):
    """Kill the sound server mid-utterance (the device vanishes), then bring it back."""
    live = Live(tmp_path, watchdog_s=0.8, retry_s=0.5)
    states: list[tuple[RecorderState, str]] = []
    live.rec.on_state(lambda s, m: states.append((s, m)))
    live.start()
    try:
        live.rec.press()
        time.sleep(0.5)
        pulse.stop(keep_dir=True)
        utt = live.utterance(timeout=15)
        assert utt.reason is EndReason.DEVICE_LOST and utt.message == "microphone unavailable"
        assert live.rec.state is RecorderState.ERROR
        assert live.rec.message.startswith("microphone unavailable")
        live.rec.release()
        time.sleep(1.2)  # retries fail while the server is down; nothing raises
        assert live.rec.state is RecorderState.ERROR
        restarted = start_pulse(runtime=pulse.runtime_dir)
        pulse.daemon, pulse.keepalive = restarted.daemon, restarted.keepalive
        wait_for(lambda: live.rec.state is RecorderState.IDLE, 15, "did not recover")
        n = len(live.levels)
        wait_for(lambda: len(live.levels) > n + 10, 10, "no audio after recovery")
        live.rec.press()
        player = pulse.play(speech_wav)
        assert player.wait(20) == 0
        time.sleep(0.25)
        live.rec.release()
        again = live.utterance()
    finally:
        live.rec.stop()
    assert again.heard
    _, corr = align_and_correlate(again.audio, load_audio(speech_wav))
    assert corr >= 0.95
    assert [s for s, _ in states].count(RecorderState.ERROR) >= 1
