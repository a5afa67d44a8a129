"""Qt-free parts of voice commands and the heat map (headless): overlay state, voice actions
with undo snapshots, colormaps, the heat-map service (off-thread, cached), the transcriber."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from radvoice.app.colormaps import colormap_rgb, overlay_rgba
from radvoice.app.heatmap_state import HeatmapPhase, HeatmapState
from radvoice.app.orientation import OrientedVolume
from radvoice.app.state import TalkPhase, TalkState, ViewerState
from radvoice.app.voice_actions import (
    Outcome,
    VoiceActions,
    VoiceSettings,
    confirmation_text,
    restore_viewer,
    viewer_snapshot,
)
from radvoice.app.voice_help import VOICE_COMMAND_NAMES, command_entries, example_questions
from radvoice.assistant.heatmaps import HeatmapService, volume_key
from radvoice.assistant.transcript import Transcriber
from radvoice.commands import Command, CommandRegistry
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES


def _volume(shape=(8, 10, 12), seed=0, direction=None) -> Volume:
    arr = np.random.default_rng(seed).integers(-1000, 400, size=shape).astype(np.int16)
    return Volume(arr, spacing=(0.8, 0.8, 2.0), direction=np.eye(3) if direction is None
                  else direction, meta={"SeriesInstanceUID": f"1.2.3.{seed}"})  # fmt: skip


def _blob(volume: Volume, kji: tuple[int, int, int], sigma: float = 1.5) -> np.ndarray:
    zz, yy, xx = np.indices(volume.shape)
    d2 = (zz - kji[0]) ** 2 + (yy - kji[1]) ** 2 + (xx - kji[2]) ** 2
    return np.exp(-d2 / (2 * sigma**2)).astype(np.float32)


def test_modules_import_no_qt():
    code = (
        "import sys, radvoice.app.heatmap_state, radvoice.app.voice_actions, "
        "radvoice.app.voice_help, radvoice.app.colormaps, radvoice.assistant.heatmaps, "
        "radvoice.assistant.transcript;"
        "print(any(m.startswith(('PySide6','vtkmodules')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- heat-map state ---------------------------------------------------------------------------
def test_heatmap_state_validates_and_finds_the_peak():
    vol = _volume()
    st = HeatmapState()
    seen = []
    st.events.changed.connect(seen.append)
    assert st.peak_index() is None and not st.shown and st.phase is HeatmapPhase.EMPTY
    hm = _blob(vol, (5, 2, 9)) * 3.0 - 0.5
    st.set_map(vol, "Pleural effusion", hm)
    assert st.peak_index() == (9, 2, 5)  # (i, j, k) of array[k, j, i]
    assert st.value_range == pytest.approx((float(hm.min()), 2.5))
    assert st.phase is HeatmapPhase.READY and st.shown and st.pathology == "Pleural effusion"
    assert "Pleural effusion" in st.status
    assert not st.map.flags.writeable and hm.flags.writeable  # the caller's array untouched
    assert [n for n, _ in seen][:2] == ["map", "phase"]
    st.threshold = 0.5
    assert st.threshold_value == pytest.approx(hm.min() + 0.5 * (2.5 - hm.min()))
    with pytest.raises(ValueError, match="shape"):
        st.set_map(vol, "Pleural effusion", hm[:-1])
    with pytest.raises(ValueError, match="non-finite"):
        st.set_map(vol, "Pleural effusion", np.full(vol.shape, np.nan, np.float32))
    with pytest.raises(ValueError, match="label"):
        st.set_map(vol, "Broken arm", hm)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            st.opacity = bad
    with pytest.raises(ValueError):
        st.colormap = "rainbow"
    flat = np.ones(vol.shape, np.float32)
    st.set_map(vol, "Emphysema", flat)  # a flat map still has a usable range
    assert st.value_range == (1.0, 2.0)
    assert st.toggle() is False and not st.shown
    st.clear()
    assert st.map is None and st.peak_index() is None and st.phase is HeatmapPhase.EMPTY


def test_colormaps_and_threshold_alpha():
    for name in ("hot", "jet", "viridis"):
        rgb = colormap_rgb(name, 64)
        assert rgb.shape == (64, 3) and rgb.min() >= 0 and rgb.max() <= 1
        assert not np.allclose(rgb[0], rgb[-1])
    hot = colormap_rgb("hot", 256)
    assert np.allclose(hot[-1], 1.0) and np.allclose(hot[0], [0, 0, 0])
    rgba = overlay_rgba("hot", 0.25, 100)
    assert (rgba[:25, 3] == 0).all() and (rgba[25:, 3] == 1).all()
    assert (overlay_rgba("jet", 0.0, 10)[:, 3] == 1).all()
    with pytest.raises(ValueError):
        colormap_rgb("rainbow")


def test_canonical_reorders_a_map_like_the_volume():
    flip = np.diag([-1.0, 1.0, -1.0])
    perm = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    for direction in (np.eye(3), flip, perm):
        vol = _volume(direction=direction)
        ov = OrientedVolume(vol)
        np.testing.assert_array_equal(ov.canonical(vol.array), ov.array)
        hm = _blob(vol, (6, 3, 4))
        can = ov.canonical(hm)
        z, y, x = np.unravel_index(int(np.argmax(can)), can.shape)
        assert ov.to_original((x, y, z)) == (4, 3, 6)


# -- voice actions ----------------------------------------------------------------------------
def _viewer_and_commands():
    viewer = ViewerState()
    viewer.set_volume(_volume())
    reg = CommandRegistry()
    reg.register(Command("view.preset.lung", "Lung window", lambda: viewer.apply_preset("lung")))
    reg.register(Command("view.slice.next", "Next Slice",
                         lambda: setattr(viewer, "cursor", (viewer.cursor[0], viewer.cursor[1],
                                                            viewer.cursor[2] + 1))))  # fmt: skip
    reg.register(Command("view.maximize.axial", "Maximise Axial",
                         lambda: setattr(viewer, "maximized", "axial")))  # fmt: skip

    def broken():
        raise RadVoiceError("open a CT first")

    reg.register(Command("priors.show", "Show Similar Prior Cases", broken))
    reg.register(Command("voice.help", "What Can I Say?", lambda: None))
    return viewer, reg


def test_voice_action_runs_confirms_and_scratch_that_restores():
    viewer, reg = _viewer_and_commands()
    actions = VoiceActions(reg, VoiceSettings(threshold=0.6))
    actions.add_provider("viewer", lambda: viewer_snapshot(viewer),
                         lambda s: restore_viewer(viewer, s))  # fmt: skip
    messages = []
    actions.events.message.connect(messages.append)
    before = viewer_snapshot(viewer)
    assert before.window == (400.0, 40.0) and before.preset == "mediastinum"

    r = actions.handle("view.preset.lung", 0.93)
    assert r.outcome is Outcome.DONE and r.message == "Lung window ← voice, 0.93"
    assert viewer.window == (1500.0, -600.0) and viewer.preset == "lung"
    assert actions.last.name == "view.preset.lung" and actions.can_undo
    r = actions.handle("view.slice.next", 0.8)
    cursor_after = viewer.cursor
    actions.handle("view.maximize.axial", 0.7)
    assert viewer.maximized == "axial"

    r = actions.handle("voice.undo", 0.9)  # "scratch that": the maximise
    assert r.outcome is Outcome.UNDONE and r.message == "Undone: Maximise Axial"
    assert viewer.maximized is None and viewer.cursor == cursor_after
    actions.undo()  # the slice step
    assert viewer.cursor == before.cursor and viewer.preset == "lung"
    actions.undo()  # the window
    assert viewer_snapshot(viewer) == before
    assert actions.undo().outcome is Outcome.NOTHING_TO_UNDO
    assert messages[-1] == "Nothing to undo"


def test_voice_action_refusals_change_nothing():
    viewer, reg = _viewer_and_commands()
    settings = VoiceSettings(threshold=0.6)
    actions = VoiceActions(reg, settings, titles=lambda n: {"view.preset.lung": "Lung"}.get(n))
    before = viewer_snapshot(viewer)
    r = actions.handle("view.preset.lung", 0.59)
    assert r.outcome is Outcome.UNSURE and "Lung" in r.message and "0.59" in r.message
    r = actions.handle("file.export_findings", 0.9)
    assert r.outcome is Outcome.UNAVAILABLE and r.message.endswith("is not available")
    r = actions.handle("priors.show", 0.9)
    assert r.outcome is Outcome.FAILED and r.message == "Show Similar Prior Cases: open a CT first"
    settings.enabled = False
    r = actions.handle("view.preset.lung", 0.99)
    assert r.outcome is Outcome.OFF
    assert viewer_snapshot(viewer) == before and not actions.can_undo
    settings.enabled = True
    r = actions.handle("voice.help", 0.9)  # runs, confirmed, but nothing to undo
    assert r.outcome is Outcome.DONE and not actions.can_undo
    assert confirmation_text("Lung window", 0.926) == "Lung window ← voice, 0.93"


def test_restore_viewer_keeps_a_manual_window_and_the_header_preset():
    viewer = ViewerState()
    viewer.set_volume(_volume())
    viewer.window = (700.0, 10.0)
    snap = viewer_snapshot(viewer)
    viewer.apply_preset("bone")
    restore_viewer(viewer, snap)
    assert viewer.window == (700.0, 10.0) and viewer.preset is None
    viewer.apply_preset("header")
    snap = viewer_snapshot(viewer)
    viewer.apply_preset("lung")
    restore_viewer(viewer, snap)
    assert viewer.preset == "header" and viewer.window == snap.window


def test_help_lists_every_catalogue_command_and_a_question_per_finding():
    _viewer, reg = _viewer_and_commands()
    entries = {e.name: e for e in command_entries(reg)}
    assert set(VOICE_COMMAND_NAMES) <= set(entries)
    assert entries["view.preset.lung"].available
    assert not entries["heatmap.jump"].available  # not registered here
    questions = example_questions()
    assert len(questions) == len(PATHOLOGIES) and "Is there pleural effusion?" in questions


# -- heat-map service -------------------------------------------------------------------------
class SlowMaps:
    """A synthetic heat-map function: a blob whose place depends on the pathology."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self.threads: set[str] = set()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, volume: Volume, pathology: str) -> np.ndarray:
        self.gate.wait(10)
        self.calls.append(pathology)
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if pathology == "Hiatal hernia":
            raise RadVoiceError("no localisation for this finding\nsecond line")
        i = PATHOLOGIES.index(pathology)
        nz, ny, nx = volume.shape
        return _blob(volume, (i % nz, (2 * i) % ny, (3 * i) % nx))


def test_service_computes_off_thread_caches_and_serves_requests_first():
    vol = _volume(seed=1)
    st = HeatmapState()
    maps = SlowMaps()
    svc = HeatmapService(st, maps, torch_threads=None)
    try:
        assert not svc.request("Pleural effusion")  # no volume yet
        svc.volume_opened(vol)
        maps.gate.clear()  # hold the worker while queueing
        assert svc.precompute(["Emphysema", "Atelectasis", "Emphysema"]) == 2
        assert not svc.request("Pleural effusion")  # not cached: computed first
        assert st.phase is HeatmapPhase.COMPUTING
        maps.gate.set()
        assert svc.wait_idle(20)
        assert maps.threads == {"radvoice-heatmap"}
        assert maps.calls[1] == "Pleural effusion" or maps.calls[0] == "Pleural effusion"
        assert sorted(maps.calls) == ["Atelectasis", "Emphysema", "Pleural effusion"]
        assert st.pathology == "Pleural effusion" and st.phase is HeatmapPhase.READY
        i = PATHOLOGIES.index("Pleural effusion")
        assert st.peak_index() == ((3 * i) % 12, (2 * i) % 10, i % 8)
        # a precomputed one is shown at once, in the caller's thread, without computing again
        n = len(maps.calls)
        assert svc.request("Emphysema") is True
        assert st.pathology == "Emphysema" and len(maps.calls) == n
        assert svc.precompute(["Emphysema", "Atelectasis", "Cardiomegaly"]) == 1 and svc.wait_idle(20)
        # an error reaches the state in one line, only for the asked pathology
        assert not svc.request("Hiatal hernia") and svc.wait_idle(20)
        assert st.phase is HeatmapPhase.ERROR
        assert st.status == "No heat map for Hiatal hernia: no localisation for this finding"
        # a new volume: cleared; a map of the old one that finishes late is not shown
        maps.gate.clear()
        svc.request("Consolidation")
        time.sleep(0.05)
        other = _volume(seed=2)
        svc.volume_opened(other)
        maps.gate.set()
        assert svc.wait_idle(20)
        assert st.map is None and st.phase is HeatmapPhase.EMPTY
        assert volume_key(other) != volume_key(vol)
        assert volume_key(_volume(seed=1)) == volume_key(vol)  # same CT again: same cache key
        svc.volume_opened(vol)
        assert svc.request("Emphysema") is True  # still cached for the first CT
    finally:
        svc.shutdown()
    assert not svc._thread.is_alive()
    assert not svc.request("Emphysema")


def test_service_rejects_a_map_of_the_wrong_grid():
    vol = _volume()
    st = HeatmapState()
    svc = HeatmapService(st, lambda v, p: np.zeros((2, 2, 2), np.float32), torch_threads=None)
    try:
        svc.volume_opened(vol)
        svc.request("Emphysema")
        assert svc.wait_idle(20)
        assert st.phase is HeatmapPhase.ERROR and "grid" in st.status
    finally:
        svc.shutdown()


# -- transcript -------------------------------------------------------------------------------
def test_transcriber_runs_in_background_and_drops_superseded():
    talk = TalkState()
    gate = threading.Event()
    heard = []

    def transcribe(audio: np.ndarray) -> str:
        gate.wait(10)
        heard.append(threading.current_thread().name)
        return f" {audio.size} samples "

    tr = Transcriber(talk, transcribe)
    try:
        f1 = tr.submit(1, np.zeros(16000, np.float32))
        f2 = tr.submit(2, np.zeros(8000, np.float32))
        assert talk.transcript == ""  # never waited for
        gate.set()
        assert f1.result(10) is None  # superseded by utterance 2
        assert f2.result(10) == "8000 samples"
        assert talk.transcript == "heard: “8000 samples”"
        assert heard and all(n.startswith("radvoice-asr") for n in heard)
        talk.set_phase(TalkPhase.LISTENING)  # a new utterance clears it
        assert talk.transcript == ""
        tr.enabled = False
        assert tr.submit(3, np.zeros(100, np.float32)) is None
    finally:
        tr.shutdown()
    assert tr.submit(4, np.zeros(100, np.float32)) is None


def test_transcriber_reports_an_asr_error_in_one_line():
    talk = TalkState()

    def broken(audio):
        raise RadVoiceError("audio too short to transcribe\ndetail")

    tr = Transcriber(talk, broken)
    try:
        tr.submit(1, np.zeros(10, np.float32)).result(10)
        assert talk.transcript == "heard: (no transcript — audio too short to transcribe)"
    finally:
        tr.shutdown()


@pytest.mark.slow
def test_shipped_models_give_a_heat_map_after_embedding_the_ct():
    """The app's order: the CT is embedded (inference mode) first, then its heat maps."""
    from radvoice.assistant.heatmaps import default_compute
    from radvoice.nn.pipeline import RadVoiceModels

    models = RadVoiceModels()
    vol = _volume(shape=(24, 40, 40), seed=4)
    models.embed_volume(vol)
    st = HeatmapState()
    svc = HeatmapService(st, default_compute(models))
    try:
        svc.volume_opened(vol)
        svc.request("Pleural effusion")
        assert svc.wait_idle(300)
        assert st.phase is HeatmapPhase.READY, st.status
        assert st.map.shape == vol.shape and 0.0 <= st.map.min() and st.map.max() <= 1.0
    finally:
        svc.shutdown()
    st2 = HeatmapState()
    svc2 = HeatmapService(st2, default_compute(object()), torch_threads=None)
    try:
        svc2.volume_opened(vol)
        svc2.request("Emphysema")
        assert svc2.wait_idle(20)
        assert st2.status == "No heat map for Emphysema: these models give no heat maps"
    finally:
        svc2.shutdown()
