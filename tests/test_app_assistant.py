"""The assistant in the window under Xvfb: open a CT → findings; a spoken question → asked
label first and highlighted; a spoken finding → priors from a tmp library; double-click →
comparison with linked slices; the library dialog; no model → empty state; first-run offer;
closing leaves no worker thread or timer running."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from test_assistant_support import REPORTS, FakeModels, build_library, make_volume

pytest.importorskip("PySide6")
from radvoice.app.assistant.preload import preload_llvm_users

preload_llvm_users()  # at collection, before any render of the session (see preload.py)
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

pytestmark = pytest.mark.gui
QUERY = "Is there a pleural effusion?"


@pytest.fixture
def make_window(make_main_window, monkeypatch):
    """Main windows (the ``radvoice.testing`` factory: closed after the test, leaks fail it)."""
    monkeypatch.delenv("RADVOICE_LIBRARY", raising=False)
    return lambda: make_main_window(volume_max_dim=48)


def speak(bridge, models: FakeModels, text: str, utt: int) -> None:
    """What the talk bridge does: chunks while the key is held, then the finished utterance."""
    audio = models.speak(text)
    for start in range(0, audio.size, 1600):
        bridge.engine.push_chunk(utt, audio[start : start + 1600], start)

    class Utt:  # the fields of radvoice.audio.Utterance the bridge reads
        utterance_id = utt
        heard = True

    Utt.audio = audio
    bridge._on_utterance(Utt)


def assistant_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("radvoice-")]


def test_findings_question_priors_comparison_and_close(make_window, qtbot, tmp_path: Path) -> None:
    from radvoice.app.assistant import attach_assistant

    models = FakeModels()
    library = build_library(tmp_path, models)
    win = make_window()
    bridge = attach_assistant(win, models=models, library=library, first_run=False)
    assert win.findings_panel.showing_empty_state

    volume = make_volume(11, shape=(20, 32, 32))
    win.set_volume(volume)
    qtbot.waitUntil(lambda: not win.findings_panel.showing_empty_state, timeout=20000)
    assert len(win.findings_panel.order) == 18
    expected = models.zero_shot(models.embed_volume(volume))
    top = max(expected, key=expected.get)
    assert win.findings_panel.order[0][0] == top

    with qtbot.waitSignal(bridge.answered, timeout=20000) as got:
        speak(bridge, models, QUERY, utt=1)
    assert got.args[0].intent.label == "Pleural effusion"
    qtbot.waitUntil(lambda: win.findings_panel.order[0][0] == "Pleural effusion", timeout=5000)
    assert "<b>Pleural effusion</b>" in win.findings_panel.status.text()
    pens = win.findings_panel.bars.opts["pens"]
    assert pens[0].width() == 2 and all(p.style() == Qt.PenStyle.NoPen for p in pens[1:])
    assert win.priors_panel.showing_empty_state

    with qtbot.waitSignal(bridge.answered, timeout=20000):
        speak(bridge, models, REPORTS[3], utt=2)
    qtbot.waitUntil(lambda: win.priors_panel.list.count() > 0, timeout=5000)
    first = win.priors_panel.list.item(0)
    assert "spiculated lung nodule" in first.text() and not first.icon().isNull()
    assert win.findings_panel.order[0][0] == "Pleural effusion"

    # double-click: the prior opens beside the current case, slices linked by relative z
    with qtbot.waitSignal(bridge.prior_opened, timeout=20000):
        win.priors_panel.list.itemDoubleClicked.emit(first)
    assert win.viewer.volume is volume  # the current case stays
    dock = bridge.comparison
    assert dock.isVisible() and dock.view.slice_count == library.load_volume(4).shape[0]
    main_axial = win.slice_views["axial"]
    main_axial.scroll(-100)  # to the first slice
    assert dock.view.slice_index == 0
    main_axial.scroll(100)  # the last one
    assert dock.view.slice_index == dock.view.slice_count - 1
    n_cur, n_prior = main_axial.slice_count, dock.view.slice_count
    main_axial.scroll(-(n_cur // 2))
    frac = main_axial.slice_index / (n_cur - 1)
    assert dock.view.slice_index == round(frac * (n_prior - 1))
    dock.view.scroll(-100)  # and back: scrolling the prior moves the current case
    assert main_axial.slice_index == 0
    win.viewer.apply_preset("lung")
    assert dock.state.window == win.viewer.window
    win.render_now()
    assert float(np.std(dock.view.capture())) > 1.0  # the prior's pixels are drawn
    win.commands.invoke("compare.close")
    assert not dock.isVisible()

    # priors for the open CT itself, on request
    win.commands.invoke("library.similar_to_volume")
    qtbot.waitUntil(lambda: "this CT" in win.priors.status, timeout=20000)
    assert win.priors_panel.list.count() == len(REPORTS)

    win.close()
    assert bridge.closed and bridge.engine.closed
    assert assistant_threads() == []
    assert not win._render_timer.isActive()
    assert bridge._loaders == []


def test_library_dialog_shows_and_reindexes(make_window, qtbot, tmp_path: Path) -> None:
    from radvoice.app.assistant import attach_assistant

    models = FakeModels()
    library = build_library(tmp_path, models, n=3)
    win = make_window()
    bridge = attach_assistant(win, models=models, library=library, first_run=False)
    win.commands.invoke("library.dialog")
    dialog = bridge.dialog
    assert dialog.isVisible()
    assert dialog.path_label.text() == str(library.directory)
    assert dialog.cases_label.text() == "3"
    assert dialog.model_label.text().startswith("fake-teacher (ffffffffffff)")
    assert dialog.reindex()
    qtbot.waitUntil(lambda: not dialog.busy and dialog.last_message.startswith("re-indexed"),
                    timeout=20000)  # fmt: skip
    assert "ct 3 vectors" in dialog.last_message
    assert "ct: flat, 3 vectors" in dialog.index_label.text()

    # import a volume file: embedded with the app's models, the count goes up
    from radvoice.imaging import write_volume

    path = write_volume(make_volume(77), tmp_path / "new.nrrd")
    assert dialog.import_paths([str(path)])
    qtbot.waitUntil(lambda: not dialog.busy and "imported" in dialog.last_message, timeout=20000)
    assert dialog.last_message.startswith("imported 1 case(s)")
    assert dialog.cases_label.text() == "4"

    # another folder: a new, empty library that the assistant then searches
    with qtbot.waitSignal(dialog.library_changed, timeout=5000):
        dialog.use_folder(tmp_path / "other")
    assert bridge.engine.library is dialog.library and dialog.cases_label.text() == "0"
    win.close()
    assert assistant_threads() == []


def test_without_models_the_empty_state_stays(make_window, qtbot, tmp_path: Path) -> None:
    from radvoice.app.assistant import attach_assistant
    from radvoice.assistant import ModelsMissing

    win = make_window()
    bridge = attach_assistant(
        win,
        models=ModelsMissing("the trained models are not installed (models/teacher missing)"),
        library_dir=tmp_path / "nolib",
        first_run=True,
    )
    # first run: a non-blocking offer appears; building needs models, so only "choose" works
    qtbot.waitUntil(lambda: bridge._prompt is not None and bridge._prompt.isVisible(), timeout=5000)
    box = bridge._prompt
    assert isinstance(box, QMessageBox)
    assert box.windowModality() == Qt.WindowModality.NonModal  # startup is never blocked
    build = next(b for b in box.buttons() if b.text() == "Build Demo Library")
    assert not build.isEnabled()
    later = next(b for b in box.buttons() if b.text() == "Not Now")
    later.click()

    win.set_volume(make_volume(12))
    qtbot.wait(200)
    assert win.findings_panel.showing_empty_state
    assert win.findings_panel.empty.text().startswith("No model loaded")
    assert "models/teacher" in win.findings_panel.empty.text()
    win.binder.invoke("library.similar_to_volume")  # a one-line error, no traceback
    assert win.last_error.startswith("No model loaded")
    assert win.priors_panel.showing_empty_state
    assert "none at" in win.priors_panel.empty.text()
    win.close()
    assert assistant_threads() == []


def test_first_run_builds_the_demo_library_with_progress(
    make_window, qtbot, tmp_path: Path, monkeypatch
) -> None:
    import radvoice.app.library_dialog as library_dialog
    import radvoice.library.demo as demo
    from radvoice.app.assistant import attach_assistant

    monkeypatch.setattr(library_dialog, "DEMO_CASES", 1)  # one generated case: ~2 s
    monkeypatch.setattr(demo, "default_ct_dir", lambda: None)  # no lung1/lung2 here
    win = make_window()
    bridge = attach_assistant(win, models=FakeModels(), library_dir=tmp_path / "lib")
    qtbot.waitUntil(lambda: bridge._prompt is not None and bridge._prompt.isVisible(), timeout=5000)
    assert bridge.engine.library is None
    build = next(b for b in bridge._prompt.buttons() if b.text() == "Build Demo Library")
    assert build.isEnabled()
    build.click()
    dialog = bridge.dialog  # the build runs in the background: no dialog to wait on
    assert dialog is not None and not dialog.isVisible()
    assert bridge.build_label is not None and bridge.build_label.isVisible()
    assert bridge.build_label.text().startswith("Case library:")
    qtbot.waitUntil(
        lambda: not dialog.busy and dialog.last_message.startswith("demo"), timeout=60000
    )
    assert dialog.last_message.startswith("demo library: 1 case(s) added")
    qtbot.waitUntil(lambda: not bridge.build_label.isVisible(), timeout=5000)
    assert win.statusBar().currentMessage().startswith("demo library: 1 case(s) added")
    assert bridge.engine.library is dialog.library
    assert (tmp_path / "lib" / "library.sqlite").is_file() and dialog.cases_label.text() == "1"

    # a long build is cancelled at the next case; what was committed stays
    assert dialog.build_demo(40)
    dialog.cancel_task()
    # the thread ends before its queued "cancelled" message reaches the GUI thread: wait for both
    qtbot.waitUntil(
        lambda: not dialog.busy and dialog.last_message.startswith("cancelled"), timeout=60000
    )
    assert 1 <= int(dialog.cases_label.text()) < 41
    win.close()
    assert assistant_threads() == []


class RecordingStream:
    """A speech stream double: counts what the recorder streamed before the key release."""

    def __init__(self, models: FakeModels, text: str) -> None:
        self.models, self.text = models, text
        self.n = 0
        self.pushes = 0
        self.finished_at: int | None = None

    @property
    def n_samples(self) -> int:
        return self.n

    def push(self, samples: np.ndarray) -> int:
        self.n += int(np.asarray(samples).size)
        self.pushes += 1
        return 0

    def finish(self) -> np.ndarray:
        self.finished_at = self.n
        return self.models.embed_text(self.text)

    def reset(self) -> None:
        self.n = 0


def test_push_to_talk_recorder_streams_into_the_assistant(make_window, qtbot, tmp_path) -> None:
    """The real recorder (fake audio device) → talk bridge → assistant → findings."""
    from audio_support import FakeBackend

    from radvoice.app.assistant import attach_assistant
    from radvoice.app.talk_bridge import attach_talk_bridge
    from radvoice.audio import PushToTalkRecorder, RecorderConfig
    from radvoice.audio.backend import InputDevice

    class StreamingModels(FakeModels):
        def speech_stream(self):
            return self.stream

    models = StreamingModels()
    models.stream = RecordingStream(models, QUERY)
    backend = FakeBackend([InputDevice(0, "Mic", "ALSA", 1, 16000, True)])
    recorder = PushToTalkRecorder(backend, RecorderConfig(watchdog_s=None), config_dir=tmp_path)
    win = make_window()
    talk = attach_talk_bridge(win, recorder=recorder, dictation_mics=False)
    bridge = attach_assistant(win, models=models, library=None, first_run=False)
    assert recorder.sync()
    win.set_volume(make_volume(21))
    qtbot.waitUntil(lambda: not win.findings_panel.showing_empty_state, timeout=20000)

    rng = np.random.default_rng(1)
    t = np.arange(16000 * 2) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    backend.stream.feed((3e-4 * rng.standard_normal(9600)).astype(np.float32))
    assert recorder.sync()
    win.commands.press("talk.push")
    backend.stream.feed(speech)
    assert recorder.sync()
    qtbot.waitUntil(lambda: models.stream.n >= speech.size, timeout=10000)
    assert models.stream.finished_at is None  # encoded while the key is still held
    with (
        qtbot.waitSignal(talk.utterance_heard, timeout=10000) as heard,
        qtbot.waitSignal(bridge.answered, timeout=20000) as got,
    ):
        win.commands.release("talk.push")
        backend.stream.feed((3e-4 * rng.standard_normal(9600)).astype(np.float32))
        assert recorder.sync()
    utterance = heard.args[0]
    assert models.stream.finished_at == utterance.audio.size  # every sample, streamed once
    assert models.stream.pushes > 10
    assert got.args[0].intent.label == "Pleural effusion"
    qtbot.waitUntil(lambda: win.findings_panel.order[0][0] == "Pleural effusion", timeout=5000)
    win.close()
    talk.shutdown()
    assert assistant_threads() == []
