"""The viewer window on real CT (lung1) under Xvfb: rendering, linking, gestures, loading."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox

pytestmark = [pytest.mark.gui, pytest.mark.realct]

VIEW_SIZE = (1100, 760)
MIN_STD = 8.0  # grey levels: a blank (uniform) view has ~0


@pytest.fixture(scope="module")
def settings_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("settings")
    old = os.environ.get("RADVOICE_SETTINGS_DIR")
    os.environ["RADVOICE_SETTINGS_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("RADVOICE_SETTINGS_DIR", None)
    else:
        os.environ["RADVOICE_SETTINGS_DIR"] = old


def wait_loaded(qtbot, win, source: str | None = None, timeout: int = 60000) -> None:
    def done():
        vol = win.viewer.volume
        assert not win.loading
        assert vol is not None
        if source is not None:
            assert Path(vol.source).resolve() == Path(source).resolve()

    qtbot.waitUntil(done, timeout=timeout)
    win.render_now()


@pytest.fixture(scope="module")
def window(qapp, settings_dir, real_ct_dir):
    """One window with lung1 for the whole module (loading and software rendering are slow);
    leaks after the module fail its last test (``radvoice.testing.main_window_session``)."""
    from pytestqt.qtbot import QtBot

    from radvoice.app.theme import apply_dark_theme
    from radvoice.testing.plugin import main_window_session

    apply_dark_theme(qapp)
    with main_window_session() as make:
        win = make(volume_max_dim=64, persist_settings=True, size=VIEW_SIZE)
        path = str(real_ct_dir / "lung1_image.nrrd")
        win.open_path(path)
        wait_loaded(QtBot(None), win, path)
        yield win


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(float).mean(axis=2)


def _click_qt(qtbot, view, display_xy, button=Qt.MouseButton.LeftButton):
    """Click through Qt at a VTK display point (origin bottom-left)."""
    x, y = display_xy
    h = view.widget.height()
    pos = QPoint(int(round(x)), int(round(h - 1 - y)))
    qtbot.mouseClick(view.widget, button, pos=pos)


def test_window_shows_lung1_in_all_views(window):
    assert window.viewer.volume.shape == (48, 512, 512)
    for name, view in window.views.items():
        pixels = view.capture()
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100, name
        assert _gray(pixels).std() > MIN_STD, f"{name} view looks blank"
    assert window.volume_view.cpu_mapper is True


def test_findings_dock_gets_most_of_the_side_column(window):
    """Its chart has 18 rows; with no saved layout it is the tallest of the three docks."""
    heights = {key: dock.height() for key, dock in window.docks.items()}
    assert heights["findings"] > max(heights["talk"], heights["priors"]), heights


def test_slice_views_follow_radiological_orientation(window):
    """Axial: the aortic arch/descending aorta (dense, patient left) shows on screen right."""
    window.viewer.cursor = (256, 256, 24)
    ov = window.oriented
    view = window.slice_views["axial"]
    # the patient's left (+x canonical) must be on screen right, anterior (-y) on top
    left = view.index_to_display((ov.size[0] - 1, ov.size[1] // 2, 24))
    right = view.index_to_display((0, ov.size[1] // 2, 24))
    anterior = view.index_to_display((ov.size[0] // 2, 0, 24))
    posterior = view.index_to_display((ov.size[0] // 2, ov.size[1] - 1, 24))
    assert left[0] > right[0] and anterior[1] > posterior[1]
    sag = window.slice_views["sagittal"]
    front = sag.index_to_display((128, 0, 24))
    back = sag.index_to_display((128, ov.size[1] - 1, 24))
    assert front[0] < back[0]  # anterior on screen left
    cor = window.slice_views["coronal"]
    head = cor.index_to_display((128, 128, ov.size[2] - 1))
    feet = cor.index_to_display((128, 128, 0))
    assert head[1] > feet[1]  # head up
    # physical spacing: 48 slices x 5 mm (240 mm) vs 512 x 0.57 mm (292 mm) wide
    origin = cor.index_to_display((0, 128, 0))
    aspect = (head[1] - feet[1]) / (cor.index_to_display((511, 128, 0))[0] - origin[0])
    assert aspect == pytest.approx((47 * 5.0) / (511 * 0.5703125), rel=0.02)


def test_window_preset_changes_slice_pixels(window, qtbot):
    view = window.slice_views["axial"]
    window.commands.invoke("view.preset.mediastinum")
    window.render_now()
    before = _gray(view.capture())
    window.commands.invoke("view.preset.lung")
    window.render_now()
    after = _gray(view.capture())
    assert window.viewer.window == (1500.0, -600.0)
    assert np.abs(after - before).mean() > 10.0
    # the hotkey "3" (bone) goes through the same command
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_3)
    assert window.viewer.preset == "bone"


def test_click_in_axial_moves_coronal_and_sagittal(window, qtbot):
    window.viewer.cursor = (256, 256, 24)
    window.render_now()
    axial = window.slice_views["axial"]
    coronal, sagittal = window.slice_views["coronal"], window.slice_views["sagittal"]
    cor_before, sag_before = _gray(coronal.capture()), _gray(sagittal.capture())
    target = (150, 300, 24)  # canonical x (towards L), y (towards P), z
    _click_qt(qtbot, axial, axial.index_to_display(target))
    assert abs(sagittal.slice_index - 150) <= 1
    assert abs(coronal.slice_index - 300) <= 1
    assert axial.slice_index == 24
    window.render_now()
    assert np.abs(_gray(coronal.capture()) - cor_before).mean() > 2.0
    assert np.abs(_gray(sagittal.capture()) - sag_before).mean() > 2.0
    # the status bar reports the HU and position of the new crosshair
    i, j, k = window.viewer.cursor
    assert f"{window.viewer.volume.hu_at(i, j, k)} HU" in window.position_label.text()
    assert f"voxel ({i}, {j}, {k})" in window.position_label.text()


def test_method_api_click_matches_display_mapping(window):
    coronal = window.slice_views["coronal"]
    window.viewer.cursor = (256, 256, 24)
    assert coronal.click(*coronal.index_to_display((100, 256, 10)))
    ov = window.oriented
    assert ov.to_canonical(window.viewer.cursor) == (100, 256, 10)
    assert window.slice_views["axial"].slice_index == 10
    assert not coronal.click(-5000, -5000)  # outside the volume: ignored


def test_wheel_scrolls_slice(window, qtbot):
    axial = window.slice_views["axial"]
    window.viewer.cursor = (256, 256, 20)
    before = axial.slice_index
    widget = axial.widget
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
    assert axial.slice_index == before + 1
    axial.scroll(-3)
    assert axial.slice_index == before - 2
    window.commands.invoke("view.slice.next")  # acts on the active (last used) view
    assert axial.slice_index == before - 1


def test_left_drag_adjusts_window_level(window, qtbot):
    window.viewer.apply_preset("lung")
    view = window.slice_views["sagittal"]
    w, h = view.widget.width(), view.widget.height()
    start = QPoint(w // 2, h // 2)
    qtbot.mousePress(view.widget, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.widget, QPoint(w // 2 + 60, h // 2 - 40))
    qtbot.mouseRelease(view.widget, Qt.MouseButton.LeftButton, pos=QPoint(w // 2 + 60, h // 2 - 40))
    width, level = window.viewer.window
    assert width > 1500.0 and level > -600.0
    assert window.viewer.preset is None


def test_zoom_and_pan_change_camera_not_slice(window):
    view = window.slice_views["coronal"]
    cam = view.renderer.GetActiveCamera()
    scale, focal = cam.GetParallelScale(), cam.GetFocalPoint()
    index = view.slice_index
    view.zoom(2.0)
    view.pan(30, 0)
    assert cam.GetParallelScale() == pytest.approx(scale / 2.0)
    assert cam.GetFocalPoint() != focal and view.slice_index == index
    window.commands.invoke("view.reset")
    assert cam.GetParallelScale() == pytest.approx(scale, rel=0.05)


def test_double_click_maximises_and_restores(window, qtbot):
    view = window.slice_views["sagittal"]
    centre = QPoint(view.widget.width() // 2, view.widget.height() // 2)
    qtbot.mouseDClick(view.widget, Qt.MouseButton.LeftButton, pos=centre)
    assert window.viewer.maximized == "sagittal"
    assert view.widget.isVisible()
    assert not window.slice_views["axial"].widget.isVisible()
    assert not window.volume_view.widget.isVisible()
    window.render_now()
    assert _gray(view.capture()).std() > MIN_STD
    window.commands.invoke("view.maximize")  # the button/command restores the active view
    assert window.viewer.maximized is None
    assert all(v.widget.isVisible() for v in window.views.values())


def test_talk_key_drives_push_to_talk_press_and_release(window, qtbot):
    calls = []
    window.commands.set_callbacks(
        "talk.push", press=lambda: calls.append("press"), release=lambda: calls.append("release")
    )
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyPress(window, Qt.Key.Key_Space)
    qtbot.keyRelease(window, Qt.Key.Key_Space)
    assert calls == ["press", "release"]
    qtbot.mousePress(window.talk_panel.button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(window.talk_panel.button, Qt.MouseButton.LeftButton)
    assert calls == ["press", "release", "press", "release"]


def test_screenshot_composites_vtk_panes(window, tmp_path):
    image = window.grab_image()
    view = window.slice_views["axial"]
    top_left = view.widget.mapTo(window, QPoint(0, 0))
    region = image.copy(top_left.x(), top_left.y(), view.widget.width(), view.widget.height())
    ptr = region.convertToFormat(region.Format.Format_RGB888)
    arr = np.frombuffer(ptr.constBits(), dtype=np.uint8).reshape(ptr.height(), ptr.bytesPerLine())[
        :, : ptr.width() * 3
    ]
    assert arr.std() > MIN_STD  # QWidget.grab alone leaves VTK panes black
    out = window.save_screenshot(tmp_path / "shot.png")
    assert out.stat().st_size > 10_000


def test_corrupt_file_shows_error_and_app_stays_up(window, qtbot, tmp_path):
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10 10\nencoding: raw\n\nxx")
    shape = window.viewer.volume.shape
    window.open_path(bad)
    qtbot.waitUntil(lambda: not window.loading and window.last_error is not None, timeout=30000)
    assert "broken.nrrd" in window.last_error
    assert "\n" not in window.last_error and "Traceback" not in window.last_error
    box = window.findChild(QMessageBox, "errorBox")
    assert box is not None and box.isVisible()
    box.close()
    assert window.viewer.volume.shape == shape  # the previous volume stays
    window.last_error = None


def test_drop_of_a_file_loads_it_and_adds_recent(window, qtbot, tmp_path):
    from radvoice.imaging import write_volume
    from radvoice.imaging.volume import Volume

    arr = np.full((12, 40, 36), -1000, dtype=np.int16)
    arr[3:9, 10:30, 8:28] = 60
    small = write_volume(Volume(arr, spacing=(2.0, 2.0, 4.0)), tmp_path / "small.nrrd")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small))])
    # dropEvent() hands the event's mime data to drop_mime(); a synthetic QDropEvent sent
    # through QApplication is not delivered without a real drag (and crashes PySide6 6.12)
    assert window.acceptDrops()
    assert window.drop_mime(mime)
    wait_loaded(qtbot, window, str(small))
    assert window.viewer.volume.shape == (12, 40, 36)
    assert window.recent_files[0] == str(Path(small).resolve())
    assert window.commands.get("file.recent.1").enabled
    for name, view in window.views.items():
        assert _gray(view.capture()).std() > 2.0, name
