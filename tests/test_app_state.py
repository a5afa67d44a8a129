"""Qt-free app state and display orientation (headless)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from radvoice.components.events import EventEmitter
from radvoice.components.orientation import OrientedVolume
from radvoice.components.state import (
    NO_MODEL_STATUS,
    WINDOW_PRESETS,
    FindingsState,
    PriorResult,
    PriorsState,
    TalkPhase,
    TalkState,
    ViewerState,
    header_window,
)
from radvoice.imaging.volume import Volume


def _volume(shape=(6, 5, 4), direction=None, meta=None) -> Volume:
    arr = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    return Volume(
        arr,
        spacing=(0.5, 0.7, 2.0),
        origin=(10.0, 20.0, 30.0),
        direction=np.eye(3) if direction is None else direction,
        meta=meta or {},
    )


def test_state_module_imports_no_qt():
    import subprocess

    code = (
        "import sys, radvoice.components.state, radvoice.commands, radvoice.components.orientation,"
        " radvoice.app.state, radvoice.app.events, radvoice.app.orientation;"
        "print(any(m.startswith(('PySide6','vtkmodules')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_old_app_module_names_are_the_moved_modules():
    import radvoice.app.events
    import radvoice.app.orientation
    import radvoice.app.state
    import radvoice.components.events
    import radvoice.components.orientation
    import radvoice.components.state

    assert radvoice.app.state is radvoice.components.state
    assert radvoice.app.events is radvoice.components.events
    assert radvoice.app.orientation is radvoice.components.orientation
    from radvoice.app.state import TalkState as Old

    assert Old is TalkState


def test_viewer_cursor_events_clamp_and_lps():
    st = ViewerState()
    seen = []
    st.events.cursor.connect(seen.append)
    vol = _volume()
    st.set_volume(vol)
    assert st.cursor == (2, 2, 3)  # centre of (nx, ny, nz) = (4, 5, 6)
    st.cursor = (100, -5, 2.6)
    assert st.cursor == (3, 0, 3)
    st.cursor = (3, 0, 3)  # unchanged: no event
    assert seen == [(2, 2, 3), (3, 0, 3)]
    np.testing.assert_allclose(st.cursor_lps(), [10 + 1.5, 20.0, 30 + 6.0])
    assert st.hu_at_cursor() == int(vol.array[3, 0, 3])


def test_window_presets_and_manual_adjustment():
    st = ViewerState()
    presets = []
    st.events.preset.connect(presets.append)
    st.apply_preset("lung")
    assert st.window == WINDOW_PRESETS["lung"] == (1500.0, -600.0)
    assert st.preset == "lung"
    st.window = (1400.0, -600.0)
    assert st.preset is None
    st.window = (400.0, 40.0)  # equals a preset again
    assert st.preset == "mediastinum"
    assert presets == ["lung", None, "mediastinum"]
    with pytest.raises(ValueError):
        st.apply_preset("liver")
    with pytest.raises(ValueError):
        st.window = (float("nan"), 0.0)


def test_header_preset_uses_dicom_window_or_percentiles():
    st = ViewerState()
    st.set_volume(_volume(meta={"WindowWidth": "350", "WindowCenter": "50"}))
    st.apply_preset("header")
    assert st.window == (350.0, 50.0) and st.preset == "header"
    width, level = header_window(_volume())
    assert width > 0 and 0 <= level <= 120


def test_maximized_toggle_and_validation():
    st = ViewerState()
    st.toggle_maximized("axial")
    assert st.maximized == "axial"
    st.toggle_maximized("axial")
    assert st.maximized is None
    with pytest.raises(ValueError):
        st.maximized = "oblique"
    with pytest.raises(ValueError):
        st.render_preset = "nope"


def test_findings_validation_and_clear():
    st = FindingsState()
    assert st.probabilities is None and st.status == NO_MODEL_STATUS
    st.set_results({"Emphysema": 0.7, "Lung nodule": 0.2}, {"Emphysema": 0.5}, "Lung nodule")
    assert st.queried_label == "Lung nodule" and st.probabilities["Emphysema"] == 0.7
    with pytest.raises(ValueError):
        st.set_results({"Broken leg": 0.5})
    with pytest.raises(ValueError):
        st.set_results({"Emphysema": 1.5})
    with pytest.raises(ValueError):
        st.set_results({"Emphysema": 0.5}, queried_label="Nope")
    st.set_results({"Emphysema": 0.7}, queried_label="Lung nodule", alternatives=["Emphysema"])
    assert st.alternatives == ("Emphysema",)
    for bad in (["Nope"], ["Lung nodule"], ["Emphysema", "Emphysema"]):
        with pytest.raises(ValueError):
            st.set_results({"Emphysema": 0.5}, queried_label="Lung nodule", alternatives=bad)
    with pytest.raises(ValueError):
        st.set_results({"Emphysema": 0.5}, alternatives=["Emphysema"])  # no question asked
    st.clear()
    assert st.probabilities is None and st.queried_label is None and st.alternatives == ()


def test_priors_sorted_and_typed():
    st = PriorsState()
    st.set_results([PriorResult("a", 0.2), PriorResult("b", 0.9), PriorResult("c", 0.5)])
    assert [r.case_id for r in st.results] == ["b", "c", "a"]
    with pytest.raises(TypeError):
        st.set_results([{"case_id": "x"}])  # type: ignore[list-item]


def test_talk_state_phases_and_level_clamp():
    st = TalkState()
    phases = []
    st.events.phase.connect(phases.append)
    st.update_level(-20.0, -6.0, 3.0)
    st.set_phase("listening")
    assert st.elapsed_s == 0.0 and st.level_dbfs == -120.0  # reset on entering listening
    st.update_level(5.0, float("nan"), 1.5)
    assert st.level_dbfs == 0.0 and st.peak_dbfs == -120.0 and st.elapsed_s == 1.5
    st.set_phase(TalkPhase.THINKING, "heard 1.5 s")
    st.fail("microphone unplugged")
    assert st.phase is TalkPhase.ERROR and st.message == "microphone unplugged"
    assert phases == [TalkPhase.LISTENING, TalkPhase.THINKING, TalkPhase.ERROR]
    with pytest.raises(ValueError):
        st.set_phase("singing")


def test_failing_listener_does_not_stop_the_others():
    em = EventEmitter("x")
    got = []

    def broken(_v):
        raise RuntimeError("view bug")

    em.connect(broken)
    em.connect(got.append)
    em.emit(1)
    with em.blocked():
        em.emit(2)
    assert got == [1]


@pytest.mark.parametrize(
    "direction",
    [
        np.eye(3),
        np.diag([-1.0, -1.0, 1.0]),  # RAS-stored
        np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),  # permuted + flipped
    ],
)
def test_oriented_volume_matches_lps_and_round_trips(direction):
    vol = _volume(direction=direction)
    ov = OrientedVolume(vol)
    assert ov.oblique_deg < 1e-6
    nx, ny, nz = ov.size
    # every canonical voxel must hold the original voxel at the same physical position
    for xyz in [(0, 0, 0), (nx - 1, 0, nz - 1), (1, ny - 1, 2), (nx - 1, ny - 1, nz - 1)]:
        ijk = ov.to_original(xyz)
        assert ov.to_canonical(ijk) == xyz
        assert ov.array[xyz[2], xyz[1], xyz[0]] == vol.array[ijk[2], ijk[1], ijk[0]]
        np.testing.assert_allclose(ov.world_of(xyz), vol.index_to_lps(ijk), atol=1e-9)
    # increasing canonical x goes to the patient's left (+x LPS), z to the head
    a, b = ov.world_of((0, 0, 0)), ov.world_of((1, 1, 1))
    assert b[0] > a[0] and b[1] > a[1] and b[2] > a[2]


def test_slice_images_have_view_shapes():
    ov = OrientedVolume(_volume())
    nx, ny, nz = ov.size
    assert ov.slice_image("axial", 0).shape == (ny, nx)
    assert ov.slice_image("coronal", 0).shape == (nz, nx)
    assert ov.slice_image("sagittal", 0).shape == (nz, ny)
    small, spacing = ov.downsampled(2)
    assert max(small.shape) <= 2 and spacing[2] == ov.spacing[2] * 3
