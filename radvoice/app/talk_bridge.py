"""Connects the push-to-talk recorder (and dictation microphones) to the app.

* ``talk.push`` press/release (keyboard, the panel's button, a PowerMic/SpeechMike record
  button) drive :class:`radvoice.audio.PushToTalkRecorder`.
* Recorder events arrive on its capture thread; queued Qt signals bring them to the GUI thread,
  where they update :class:`radvoice.components.state.TalkState`: phase, a live level (25 Hz while
  listening), elapsed time and the confirmation ("heard 4.2 s", "nothing heard",
  "microphone unavailable: ...").
* Utterances with speech are emitted by :attr:`TalkBridge.utterance_heard` for the speech model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from radvoice.audio import PushToTalkRecorder, RecorderState, TalkMode, Utterance
from radvoice.audio.levels import Level
from radvoice.commands import Command, CommandRegistry
from radvoice.components.state import SILENCE_DBFS, TalkPhase, TalkState
from radvoice.devices import CommandEvent, DictationMicPoller
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)

TALK_COMMAND = "talk.push"
TOGGLE_MODE_COMMAND = "talk.toggle_mode"


def default_config_dir() -> Path:
    """Where the microphone choice is kept (``RADVOICE_SETTINGS_DIR`` wins, as for QSettings)."""
    import os

    from platformdirs import user_config_dir

    folder = os.environ.get("RADVOICE_SETTINGS_DIR")
    return Path(folder) if folder else Path(user_config_dir("RadVoice", "RadVoice"))


class TalkBridge(QObject):
    """Owns the recorder and the dictation-mic poller for one window."""

    level_changed = Signal(float, float)  # RMS and peak dBFS, ≥ 20 Hz while listening
    utterance_heard = Signal(object)  # an Utterance that holds speech
    utterance_finished = Signal(object)  # every Utterance, heard or not

    _state_in = Signal(str, str)
    _level_in = Signal(object, float)
    _utterance_in = Signal(object)
    _hid_in = Signal(object)

    def __init__(
        self,
        talk: TalkState,
        commands: CommandRegistry,
        recorder: PushToTalkRecorder | None = None,
        config_dir: str | Path | None = None,
        dictation_mics: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.talk = talk
        self.commands = commands
        if recorder is None:
            recorder = PushToTalkRecorder(
                config_dir=config_dir if config_dir is not None else default_config_dir()
            )
        self.recorder = recorder
        self._closed = False
        self._state_in.connect(self._on_state)
        self._level_in.connect(self._on_level)
        self._utterance_in.connect(self._on_utterance)
        self._hid_in.connect(self._on_hid)
        recorder.on_state(lambda state, message: self._state_in.emit(state.value, message))
        recorder.on_level(lambda level: self._level_in.emit(level, self.recorder.elapsed_s))
        recorder.on_utterance(self._utterance_in.emit)
        commands.set_callbacks(TALK_COMMAND, press=self.press, release=self.release)
        if TOGGLE_MODE_COMMAND not in commands:
            commands.register(
                Command(
                    TOGGLE_MODE_COMMAND,
                    "Toggle Mode (press to start, press again to stop)",
                    self.toggle_mode,
                    category="Talk",
                    checkable=True,
                    checked=recorder.mode is TalkMode.TOGGLE,
                    tooltip="Push-to-talk starts and stops on presses instead of a hold",
                )
            )
        self.poller: DictationMicPoller | None = None
        if dictation_mics:
            self.poller = DictationMicPoller(self._hid_in.emit)
            self.poller.start()
        recorder.start()

    # ------------------------------------------------------------------ commands
    def press(self) -> None:
        self.recorder.press()

    def release(self) -> None:
        self.recorder.release()

    def toggle_mode(self) -> None:
        """Switch between hold and toggle push-to-talk (persisted with the microphone)."""
        toggle = self.recorder.mode is not TalkMode.TOGGLE
        self.recorder.set_mode(TalkMode.TOGGLE if toggle else TalkMode.HOLD)
        self.commands.set_checked(TOGGLE_MODE_COMMAND, toggle)

    def shutdown(self) -> None:
        """Stop the capture and HID threads (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self.poller is not None:
            self.poller.stop()
        self.recorder.stop()

    # ------------------------------------------------------------------ GUI thread slots
    def _on_state(self, state: str, message: str) -> None:
        if self._closed:
            return
        rs = RecorderState(state)
        if rs in (RecorderState.LISTENING, RecorderState.FINISHING):
            if self.talk.phase is not TalkPhase.LISTENING:
                self.talk.set_phase(TalkPhase.LISTENING, "Listening…")
        elif rs is RecorderState.ERROR:
            self.talk.fail(message)
        elif self.talk.phase is TalkPhase.ERROR and message.startswith("microphone ready"):
            self.talk.set_phase(TalkPhase.IDLE, message)

    def _on_level(self, level: Level, elapsed_s: float) -> None:
        if self._closed or self.talk.phase is not TalkPhase.LISTENING:
            return
        self.talk.update_level(level.rms_dbfs, level.peak_dbfs, elapsed_s)
        self.level_changed.emit(level.rms_dbfs, level.peak_dbfs)

    def _on_utterance(self, utterance: Utterance) -> None:
        if self._closed:
            return
        if self.recorder.state is RecorderState.ERROR:
            self.talk.fail(utterance.message)
        else:
            self.talk.set_phase(TalkPhase.IDLE, utterance.message)
        self.talk.update_level(SILENCE_DBFS, SILENCE_DBFS, utterance.duration)
        self.utterance_finished.emit(utterance)
        if utterance.heard:
            self.utterance_heard.emit(utterance)

    def _on_hid(self, event: CommandEvent) -> None:
        if self._closed or event.command not in self.commands:
            return
        try:
            if event.pressed:
                self.commands.press(event.command)
            else:
                self.commands.release(event.command)
        except RadVoiceError as err:
            self.talk.set_message(str(err))


def attach_talk_bridge(window: Any, **kwargs: Any) -> TalkBridge:
    """Create the bridge for a ``MainWindow`` (its ``talk`` state and ``commands``), stop it
    when the application quits, and keep it as ``window.talk_bridge``."""
    from PySide6.QtWidgets import QApplication

    bridge = TalkBridge(window.talk, window.commands, parent=window, **kwargs)
    window.talk_bridge = bridge
    talk_menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "&Talk"), None)
    if talk_menu is not None:
        window.binder.fill_menu(talk_menu, [TOGGLE_MODE_COMMAND])
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(bridge.shutdown)
    window.destroyed.connect(lambda *_: bridge.shutdown())
    return bridge
