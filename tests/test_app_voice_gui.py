"""Voice commands and the heat-map overlay in the window under Xvfb (no audio): the overlay
drawn on the slices (opacity, threshold, toggle, jump to maximum), voice actions from a worker
thread with a confirmation and Undo, the new commands, help and settings; with the assistant:
a question shows its heat map and, after the answer, what was heard; priors commands."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest
import torch  # noqa: F401 - before PySide6, whose import hook makes a later one slow
from test_assistant_support import FakeModels, build_library, make_volume

pytest.importorskip("PySide6")
from radvoice.app.assistant.preload import preload_llvm_users

preload_llvm_users()
from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

pytestmark = pytest.mark.gui
QUERY = "Is there a pleural effusion?"


@pytest.fixture
def make_window(qapp, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.delenv("RADVOICE_LIBRARY", raising=False)
    from radvoice.app.main_window import MainWindow

    made = []

    def make(persist: bool = False):
        win = MainWindow(volume_max_dim=48, force_cpu_volume=True, persist_settings=persist)
        win.resize(1100, 720)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
        win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()


def blob_map(volume, kji, sigma=2.5) -> np.ndarray:
    zz, yy, xx = np.indices(volume.shape)
    d2 = (zz - kji[0]) ** 2 + (yy - kji[1]) ** 2 + (xx - kji[2]) ** 2
    return np.exp(-d2 / (2 * sigma**2)).astype(np.float32)


def uniform_volume(shape=(20, 32, 32)):
    vol = make_volume(5, shape=shape)
    vol.array[...] = 40  # mid-grey in the mediastinum window: the overlay's colour stands out
    return vol


def inner(rgb: np.ndarray) -> np.ndarray:
    """The image area without the corner and edge texts."""
    return rgb[40:-40, 40:-40]


def redness(rgb: np.ndarray) -> float:
    rgb = rgb.astype(float)
    return float((rgb[..., 0] - rgb[..., 2]).max())


def change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute colour difference of two captures (or crops)."""
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def peak_pixel(win, view_name: str) -> tuple[int, int]:
    """Row/column of the peak voxel in the view's capture."""
    view = win.slice_views[view_name]
    xyz = view.oriented.to_canonical(win.heatmap.peak_index())
    x, y = view.index_to_display(xyz)
    h = view.render_window.GetSize()[1]
    return int(round(h - 1 - y)), int(round(x))


def test_overlay_opacity_threshold_toggle_and_jump(make_window, qtbot):
    win = make_window()
    vol = uniform_volume()
    win.set_volume(vol)
    win.viewer.crosshair_visible = False
    win.render_now()
    axial = win.slice_views["axial"]
    plain = axial.capture()
    assert redness(inner(plain)) < 5

    hm = blob_map(vol, (12, 8, 24))
    worker = threading.Thread(target=win.heatmap.set_map, args=(vol, "Pleural effusion", hm))
    worker.start()  # as the heat-map worker does: events cross to the GUI thread
    worker.join()
    qtbot.waitUntil(lambda: win.heatmap_overlay.shown, timeout=5000)
    assert win.heatmap_panel.title.text() == "Where the model looks: Pleural effusion"
    assert win.heatmap_panel.high.text() == "1" and win.heatmap.opacity == 0.5

    win.commands.invoke("heatmap.jump")  # the crosshair to the hottest voxel
    assert win.viewer.cursor == (24, 8, 12)
    win.render_now()
    shown = axial.capture()
    r, c = peak_pixel(win, "axial")
    spot = (slice(r - 2, r + 3), slice(c - 2, c + 3))
    assert change(shown[spot], plain[spot]) > 40  # the hot spot is coloured
    far = (slice(45, 60), slice(60, 75))  # far from the blob: under the threshold
    assert np.abs(shown[far].astype(int) - plain[far]).max() < 3
    for name in ("coronal", "sagittal"):
        view = win.slice_views[name]
        rr, cc = peak_pixel(win, name)
        spot_v = (slice(rr - 2, rr + 3), slice(cc - 2, cc + 3))
        view.layers[0].actor.VisibilityOff()
        without = view.capture()
        view.layers[0].actor.VisibilityOn()
        assert change(view.capture()[spot_v], without[spot_v]) > 40
    assert any(layer.bar.GetVisibility() for layer in win.heatmap_overlay.layers.values())

    win.heatmap_panel.opacity.setValue(100)  # the slider sets the state; the view follows
    assert win.heatmap.opacity == 1.0
    qtbot.waitUntil(lambda: axial.layers[0].actor.GetProperty().GetOpacity() == 1.0, timeout=5000)
    win.render_now()
    opaque = axial.capture()
    assert change(opaque[spot], plain[spot]) > change(shown[spot], plain[spot]) + 20

    win.heatmap.threshold = 0.0  # everything shown: the far corner is coloured now
    qtbot.wait(50)
    win.render_now()
    assert np.abs(axial.capture()[far].astype(int) - plain[far]).max() > 20

    win.commands.invoke("heatmap.toggle")  # key H / button / voice
    assert not win.heatmap.visible and not win.commands.get("heatmap.toggle").checked
    qtbot.waitUntil(lambda: not win.heatmap_overlay.shown, timeout=5000)
    win.render_now()
    assert np.abs(inner(axial.capture()).astype(int) - inner(plain)).max() < 3
    win.heatmap_panel.toggle.click()
    assert win.heatmap.visible and win.heatmap_overlay.shown

    win.set_volume(uniform_volume((18, 30, 30)))  # another CT: the old map goes away
    qtbot.waitUntil(lambda: not win.heatmap_overlay.shown, timeout=5000)
    assert win.heatmap.map is None
    win.binder.invoke("heatmap.jump")
    assert win.last_error == "No heat map yet — ask about a finding first"


def test_voice_actions_confirm_undo_and_new_commands(make_window, qtbot):
    win = make_window()
    win.set_volume(make_volume(8, shape=(20, 32, 32)))
    win.render_now()
    voice = win.voice
    start_window = win.viewer.window

    worker = threading.Thread(target=voice.handler, args=("view.preset.lung", 0.93))
    with qtbot.waitSignal(voice.executed, timeout=5000) as got:
        worker.start()  # the assistant calls the handler on its speech worker
    worker.join()
    assert got.args[0].message == "Lung window ← voice, 0.93"
    assert win.viewer.window == (1500.0, -600.0)
    assert voice.confirmation.isVisible() and voice.confirmation.undo.isVisible()
    assert voice.confirmation.label.text() == "Lung window ← voice, 0.93"
    assert win.statusBar().currentMessage() == "Lung window ← voice, 0.93"
    qtbot.mouseClick(voice.confirmation.undo, Qt.MouseButton.LeftButton)  # one-click undo
    assert win.viewer.window == start_window
    assert voice.confirmation.label.text() == "Undone: Lung window"
    assert not voice.confirmation.undo.isVisible()

    # each new command by voice, each undone by "scratch that"
    axial = win.slice_views["axial"]
    k0 = win.viewer.cursor[2]
    voice.run_command("view.slice.first", 0.9)
    assert axial.slice_index == 0
    voice.run_command("view.slice.last", 0.9)
    assert axial.slice_index == axial.slice_count - 1
    voice.run_command("voice.undo", 0.9)
    voice.run_command("voice.undo", 0.9)
    assert win.viewer.cursor[2] == k0
    scale = axial.renderer.GetActiveCamera().GetParallelScale()
    voice.run_command("view.zoom.in", 0.9)
    assert axial.renderer.GetActiveCamera().GetParallelScale() == pytest.approx(scale / 1.25)
    voice.run_command("view.zoom.out", 0.9)
    voice.run_command("view.zoom.out", 0.9)
    voice.run_command("voice.undo", 0.9)
    voice.run_command("voice.undo", 0.9)
    voice.run_command("voice.undo", 0.9)
    assert axial.renderer.GetActiveCamera().GetParallelScale() == pytest.approx(scale)
    for name in ("coronal", "sagittal", "axial"):
        voice.run_command(f"view.maximize.{name}", 0.9)
        assert win.viewer.maximized == name and win.viewer.active_view == name
        assert win.slice_views[name].widget.isVisible()
        assert not win.volume_view.widget.isVisible()
    voice.run_command("view.restore", 0.9)
    assert win.viewer.maximized is None and win.volume_view.widget.isVisible()
    voice.run_command("voice.undo", 0.9)
    assert win.viewer.maximized == "axial"

    # refusals: below the threshold, not available here, voice commands off
    r = voice.run_command("view.preset.bone", 0.2)
    assert r.outcome.value == "unsure" and win.viewer.preset != "bone"
    assert not voice.confirmation.undo.isVisible()
    # a command the window has but cannot run now (disabled) is refused, not run
    win.commands.set_enabled("file.export_findings", False)
    r = voice.run_command("file.export_findings", 0.9)
    assert "not available" in r.message
    win.commands.set_enabled("file.export_findings", True)
    from radvoice.app.voice_actions import VoiceSettings

    voice.apply_settings(VoiceSettings(enabled=False))
    assert voice.run_command("view.preset.bone", 0.99).outcome.value == "off"
    assert win.viewer.preset != "bone"

    # keys: the new commands have sensible default shortcuts
    keys = {n: win.commands.get(n).shortcut for n in (
        "view.slice.first", "view.slice.last", "view.zoom.in", "view.zoom.out", "heatmap.toggle",
        "heatmap.jump", "voice.undo", "voice.help", "view.restore")}  # fmt: skip
    assert keys == {
        "view.slice.first": "Home", "view.slice.last": "End", "view.zoom.in": "Ctrl++",
        "view.zoom.out": "Ctrl+-", "heatmap.toggle": "H", "heatmap.jump": "J",
        "voice.undo": "Ctrl+Z", "voice.help": "F1", "view.restore": "Escape",
    }  # fmt: skip
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    names = [a.objectName() for a in view_menu.actions()]
    assert {"action:heatmap.toggle", "action:view.maximize.sagittal"} <= set(names)


def test_help_panel_and_settings_persist(make_window, qtbot, tmp_path):
    win = make_window(persist=True)
    win.commands.invoke("voice.help")
    dialog = win.voice.help_dialog
    assert dialog.isVisible() and not dialog.isModal()
    text = win.voice.help_text.toPlainText()
    for expected in ("Lung window", "“jump to finding”", "“scratch that”", "Is there pleural effusion?", "F1"):
        assert expected in text
    win.commands.invoke("voice.settings")
    box = win.voice.settings_dialog
    assert box.enabled.isChecked() and box.transcript.isChecked()
    box.threshold.setValue(0.7)
    box.transcript.setChecked(False)
    box.accept()
    assert win.voice.settings.threshold == pytest.approx(0.7)
    assert not win.voice.settings.transcript
    other = make_window(persist=True)  # a new window reads them back
    assert other.voice.settings.threshold == pytest.approx(0.7)
    assert not other.voice.settings.transcript and other.voice.settings.enabled


class Maps:
    """Synthetic heat maps for the assistant bridge (the real one is Grad-CAM)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, volume, pathology):
        self.calls.append(pathology)
        time.sleep(0.02)
        return blob_map(volume, (volume.shape[0] // 3, 5, volume.shape[2] - 6))


def test_question_shows_heatmap_then_transcript_and_priors_commands(make_window, qtbot, tmp_path):
    from test_app_assistant import assistant_threads, speak

    from radvoice.app.assistant import attach_assistant

    models = FakeModels()
    library = build_library(tmp_path, models, n=3)
    maps = Maps()
    events: list[tuple[str, float]] = []
    gate = threading.Event()

    def transcribe(audio):
        gate.wait(10)
        return "is there a pleural effusion"

    win = make_window()
    bridge = attach_assistant(win, models=models, library=library, first_run=False,
                              heatmap_compute=maps, transcribe=transcribe)  # fmt: skip
    win.talk.events.transcript.connect(lambda t: events.append(("transcript", time.monotonic())))
    bridge.answered.connect(lambda a: events.append(("answer", time.monotonic())))
    volume = make_volume(11, shape=(20, 32, 32))
    win.set_volume(volume)
    qtbot.waitUntil(lambda: not win.findings_panel.showing_empty_state, timeout=60000)
    assert bridge.voice.heatmaps.wait_idle(30)  # every finding's map precomputed
    assert sorted(maps.calls) == sorted(set(maps.calls)) and len(maps.calls) == 18
    if hasattr(bridge.engine, "set_command_handler"):
        assert bridge.engine._command_handler == win.voice.handler

    with qtbot.waitSignal(bridge.answered, timeout=60000):
        speak(bridge, models, QUERY, utt=1)
    qtbot.waitUntil(lambda: win.heatmap_overlay.shown, timeout=5000)
    assert win.heatmap.pathology == "Pleural effusion" and len(maps.calls) == 18  # cached
    assert win.talk.transcript == ""  # the transcript never comes before the answer
    gate.set()
    heard = "heard: “is there a pleural effusion”"
    qtbot.waitUntil(lambda: win.talk_panel.transcript.text() == heard, timeout=10000)
    assert win.talk.transcript == heard and win.talk_panel.transcript.isVisible()
    assert [e[0] for e in events] == ["answer", "transcript"]
    win.commands.invoke("heatmap.jump")
    assert win.viewer.cursor == (32 - 6, 5, 20 // 3)

    win.commands.invoke("priors.compare")  # no priors yet: searched, then the top one opened
    qtbot.waitUntil(lambda: bridge.comparison is not None and bridge.comparison.isVisible(),
                    timeout=60000)  # fmt: skip
    assert win.priors.results and bridge.comparison.view.slice_count > 0
    win.close()
    assert bridge.voice.closed and bridge.voice.heatmaps.closed
    assert assistant_threads() == []


def test_engine_commands_reach_the_viewer_and_scratch_that_undoes(make_window, qtbot):
    """The assistant's command intent (typed here: no speech model needed) → the handler on
    the speech worker → the viewer, confirmed; "scratch that" undoes; questions still answer."""
    from radvoice.app.assistant import attach_assistant

    models = FakeModels()
    win = make_window()
    bridge = attach_assistant(win, models=models, library=None, first_run=False,
                              heatmap_compute=Maps(), transcribe=None)  # fmt: skip
    assert bridge.engine._command_handler == win.voice.handler
    win.set_volume(make_volume(13, shape=(20, 32, 32)))
    qtbot.waitUntil(lambda: not win.findings_panel.showing_empty_state, timeout=60000)
    before = win.viewer.window
    with qtbot.waitSignal(win.voice.executed, timeout=60000) as got:
        bridge.engine.ask_text("lung window please")
    assert got.args[0].message == "Lung window ← voice, 1.00"
    assert win.viewer.window == (1500.0, -600.0)
    with qtbot.waitSignal(win.voice.executed, timeout=60000) as got:
        bridge.engine.ask_text("scratch that")
    assert got.args[0].outcome.value == "undone" and win.viewer.window == before
    with qtbot.waitSignal(win.voice.executed, timeout=60000):
        bridge.engine.ask_text("what can I say")
    assert win.voice.help_dialog is not None and win.voice.help_dialog.isVisible()

    # the settings reach the engine: commands off → the same words are not a command
    from radvoice.app.voice_actions import VoiceSettings

    win.voice.apply_settings(VoiceSettings(enabled=False, threshold=0.8))
    assert bridge.engine.config.voice_commands is False
    assert bridge.engine.config.command_threshold == pytest.approx(0.8)
    with qtbot.waitSignal(bridge.answered, timeout=60000) as got:
        bridge.engine.ask_text("lung window")
    assert got.args[0].intent.kind.value != "command" and win.viewer.window == before
    win.close()
