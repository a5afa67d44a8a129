"""The app's push-to-talk under Xvfb with a real PortAudio stream from a PulseAudio null sink.

Holding the talk key while a WAV plays into the sink moves the level meter; auto-repeat key
events (as X11 sends for a held key) do not end the hold; the confirmation says what happened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from audio_support import (
    FakeBackend,
    PulseServer,
    PulseUnavailable,
    espeak_wav,
    pulse_environment,
    skip_or_fail,
)
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from radvoice.audio import PushToTalkRecorder, RecorderConfig, Utterance
from radvoice.components.state import TalkPhase

pytestmark = [pytest.mark.gui, pytest.mark.audio]


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    try:
        with pulse_environment() as server:
            yield server
    except PulseUnavailable as err:
        skip_or_fail(err)


@pytest.fixture
def window(make_main_window):
    """A main window (the ``radvoice.testing`` factory: closed after the test, leaks fail it)."""
    win = make_main_window(volume_max_dim=64, size=(1000, 700))
    yield win
    bridge = getattr(win, "talk_bridge", None)
    if bridge is not None:
        bridge.shutdown()


def _attach(win, tmp_path: Path, recorder: PushToTalkRecorder):
    from radvoice.app.talk_bridge import attach_talk_bridge

    return attach_talk_bridge(win, recorder=recorder, dictation_mics=False)


def _key(win, kind: QEvent.Type, auto_repeat: bool) -> None:
    event = QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", auto_repeat)
    QApplication.sendEvent(win, event)


def test_held_key_moves_meter_and_autorepeat_keeps_hold(window, pulse, qtbot, tmp_path):
    recorder = PushToTalkRecorder(config=RecorderConfig(), config_dir=tmp_path / "mic")
    recorder.select_device("pulse")
    bridge = _attach(window, tmp_path, recorder)
    talk_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Talk")
    assert "action:talk.toggle_mode" in [a.objectName() for a in talk_menu.actions()]
    heard: list[Utterance] = []
    bridge.utterance_heard.connect(heard.append)
    qtbot.waitUntil(lambda: recorder.last_level is not None, timeout=10000)
    time.sleep(0.6)  # pre-roll
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    wav = espeak_wav("Is there a pleural effusion on the left side?", tmp_path / "question.wav")

    meter_values: list[float] = []
    signal_times: list[float] = []
    bridge.level_changed.connect(lambda rms, peak: signal_times.append(time.monotonic()))

    qtbot.keyPress(window, Qt.Key.Key_Space)  # the real key down
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.LISTENING, timeout=5000)
    player = pulse.play(wav)
    while player.poll() is None:
        # X11 auto-repeat of the held key: release+press pairs flagged isAutoRepeat
        _key(window, QEvent.Type.KeyRelease, True)
        _key(window, QEvent.Type.KeyPress, True)
        qtbot.wait(40)
        meter_values.append(window.talk_panel.meter.level_dbfs)
        assert window.talk.phase is TalkPhase.LISTENING
    qtbot.wait(300)
    assert window.talk.phase is TalkPhase.LISTENING  # still held after all the repeats
    assert window.talk.elapsed_s > 1.0
    assert window.talk_panel.elapsed.text().endswith(" s")
    qtbot.keyRelease(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: len(heard) == 1, timeout=10000)

    values = np.array(meter_values)
    print(
        f"\nmeter: {len(values)} samples, {values.min():.1f}..{values.max():.1f} dBFS; "
        f"{len(signal_times) / (signal_times[-1] - signal_times[0]):.1f} level signals/s"
    )
    assert values.max() > -30  # speech moved the meter ...
    assert len(np.unique(np.round(values, 1))) > 10  # ... and it kept moving
    assert len(signal_times) / (signal_times[-1] - signal_times[0]) >= 20
    utt = heard[0]
    assert utt.heard and utt.duration > 2.0
    assert window.talk.phase is TalkPhase.IDLE
    assert window.talk.message == f"heard {utt.duration:.1f} s"
    assert window.talk_panel.message.text() == window.talk.message

    # the panel's button works with press-and-hold; silence is "nothing heard"
    qtbot.mousePress(window.talk_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.LISTENING, timeout=5000)
    qtbot.wait(600)
    qtbot.mouseRelease(window.talk_panel.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.talk.message == "nothing heard", timeout=5000)
    assert len(heard) == 1


def test_microphone_unavailable_is_shown_and_app_stays_up(window, qtbot, tmp_path):
    backend = FakeBackend([])
    recorder = PushToTalkRecorder(
        backend, RecorderConfig(watchdog_s=None, retry_s=0.1), config_dir=tmp_path
    )
    _attach(window, tmp_path, recorder)
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.ERROR, timeout=5000)
    assert window.talk.message == "microphone unavailable: no microphone found"
    window.commands.press("talk.push")
    window.commands.release("talk.push")
    qtbot.wait(100)
    assert window.talk.phase is TalkPhase.ERROR and window.isVisible()
    backend.devices = FakeBackend().devices  # a microphone is plugged in
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.IDLE, timeout=5000)
    assert window.talk.message.startswith("microphone ready")


def test_dictation_mic_and_toggle_mode_drive_the_recorder(window, qtbot, tmp_path):
    from radvoice.devices import Button, CommandEvent

    backend = FakeBackend()
    recorder = PushToTalkRecorder(backend, RecorderConfig(watchdog_s=None), config_dir=tmp_path)
    bridge = _attach(window, tmp_path, recorder)
    qtbot.waitUntil(lambda: recorder.device is not None, timeout=5000)
    mic = "Nuance PowerMic II/III"
    bridge._hid_in.emit(CommandEvent("talk.push", True, Button.RECORD, mic))
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.LISTENING, timeout=5000)
    bridge._hid_in.emit(CommandEvent("talk.push", False, Button.RECORD, mic))
    backend.stream.feed(np.zeros(48000, np.float32))  # the tail arrives
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.IDLE, timeout=5000)
    assert window.talk.message.startswith("too short") or window.talk.message == "nothing heard"

    window.commands.invoke("talk.toggle_mode")
    assert window.commands.get("talk.toggle_mode").checked
    assert '"toggle"' in (tmp_path / "microphone.json").read_text()
    window.commands.press("talk.push")
    window.commands.release("talk.push")
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.LISTENING, timeout=5000)
    qtbot.wait(100)
    assert window.talk.phase is TalkPhase.LISTENING  # the release did not stop it
    window.commands.press("talk.push")
    window.commands.release("talk.push")
    backend.stream.feed(np.zeros(48000, np.float32))
    qtbot.waitUntil(lambda: window.talk.phase is TalkPhase.IDLE, timeout=5000)
