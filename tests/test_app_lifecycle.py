"""Window lifecycle: clean shutdown, settings persistence, the screenshot CLI (small volumes)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import QObject, QThread, QTimer

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))


@pytest.fixture
def small_volume_file(tmp_path) -> Path:
    from radvoice.imaging import write_volume
    from radvoice.imaging.volume import Volume

    arr = np.full((16, 48, 40), -1000, dtype=np.int16)
    arr[2:14, 8:40, 6:34] = 40  # body
    arr[4:12, 14:34, 10:18] = -850  # right lung
    arr[4:12, 14:34, 22:30] = -850  # left lung
    vol = Volume(arr, spacing=(1.5, 1.5, 3.0), origin=(-30.0, -36.0, -24.0))
    return write_volume(vol, tmp_path / "chest.nrrd")


def _all_children(obj: QObject) -> list[QObject]:
    out = []
    for child in obj.children():
        out.append(child)
        out.extend(_all_children(child))
    return out


@pytest.fixture
def make_window(make_main_window):
    """Main windows that persist their settings (in this test's folder); leaks fail the test."""
    return lambda: make_main_window(volume_max_dim=32, persist_settings=True, size=(900, 640))


def _wait_loaded(qtbot, win, path: Path) -> None:
    def done():
        assert not win.loading
        vol = win.viewer.volume
        assert vol is not None and Path(vol.source).resolve() == path.resolve()

    qtbot.waitUntil(done, timeout=30000)


def test_close_leaves_no_threads_or_active_timers(make_window, qtbot, small_volume_file):
    before = {t.ident for t in threading.enumerate()}
    win = make_window()
    win.open_path(small_volume_file)
    _wait_loaded(qtbot, win, small_volume_file)
    win.viewer.cursor = (5, 6, 7)  # schedules renders: the render timer is active now
    assert win._render_timer.isActive()
    win.open_path(small_volume_file)  # a load in flight at close time
    win.close()
    assert win.closed
    children = _all_children(win)
    running = [c for c in children if isinstance(c, QThread) and c.isRunning()]
    active = [c for c in children if isinstance(c, QTimer) and c.isActive()]
    assert running == [] and active == []
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert leftover == []
    assert all(v.closed for v in win.views.values())
    win.render_now()  # rendering after close is a no-op, not a crash


def test_settings_persist_shortcuts_preset_and_recent(make_window, qtbot, small_volume_file):
    win = make_window()
    win.commands.set_shortcut("view.preset.lung", "F2")
    win.viewer.apply_preset("bone")
    win.viewer.show_patient_info = True
    win.open_path(small_volume_file)
    _wait_loaded(qtbot, win, small_volume_file)
    win.close()

    again = make_window()
    assert again.commands.get("view.preset.lung").shortcut == "F2"
    assert again.binder.actions["view.preset.lung"].shortcut().toString() == "F2"
    assert again.viewer.preset == "bone"
    assert again.viewer.show_patient_info is True
    assert again.recent_files == [str(small_volume_file.resolve())]
    again.commands.invoke("file.recent.clear")
    assert again.recent_files == []
    again.close()


def test_patient_name_only_with_the_setting(make_window, qtbot, small_volume_file):
    from radvoice.imaging import read_volume

    win = make_window()
    vol = read_volume(small_volume_file)
    vol.meta.update(PatientName="DOE^JANE", StudyDate="20240131", SeriesDescription="CHEST")
    win.set_volume(vol)
    corner = win.slice_views["axial"].corners
    assert "2024-01-31" in corner.text(2) and "CHEST" in corner.text(2)
    assert "DOE" not in corner.text(2)
    win.commands.invoke("view.patient_info")
    assert "DOE^JANE" in corner.text(2)
    win.close()


def test_shortcuts_dialog_applies_and_detects_conflicts(make_window, qtbot):
    from PySide6.QtGui import QKeySequence

    from radvoice.app.shortcuts_dialog import ShortcutsDialog

    win = make_window()
    dialog = ShortcutsDialog(win.commands, win)
    qtbot.addWidget(dialog)
    dialog.editors["view.preset.bone"].setKeySequence(QKeySequence("1"))
    assert dialog.conflicts() and not dialog.apply()  # "1" is the lung preset's
    dialog.editors["view.preset.lung"].setKeySequence(QKeySequence("3"))  # swap
    assert dialog.apply()
    assert win.commands.get("view.preset.bone").shortcut == "1"
    assert win.commands.get("view.preset.lung").shortcut == "3"
    dialog.restore_defaults()
    assert dialog.apply()
    assert win.commands.get("view.preset.lung").shortcut == "1"
    win.close()


def test_screenshot_cli_writes_png_and_rejects_bad_input(qapp, tmp_path, small_volume_file, capsys):
    from PySide6.QtGui import QImage

    from radvoice.cli.main import main

    out = tmp_path / "shot.png"
    code = main(
        [
            *("screenshot", str(small_volume_file), "--out", str(out), "--size", "900x600"),
            *("--preset", "mediastinum", "--cursor", "20,24,8"),
        ]
    )
    assert code == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)
    # the axial pane (upper right of the 2x2 grid) is composited, not black
    samples = [image.pixelColor(x, y).lightness() for x in range(350, 650, 10) for y in (150, 200)]
    assert max(samples) > 60

    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    assert main(["screenshot", str(bad), "--out", str(out)]) == 2
    assert main(["screenshot", str(small_volume_file), "--out", str(out), "--size", "big"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--size" in err


def test_dicom_folder_with_two_series_asks_which_one(make_window, qtbot, tmp_path, monkeypatch):
    from radvoice.app import main_window as mw
    from radvoice.app.series_dialog import SeriesDialog
    from radvoice.imaging import write_dicom_series
    from radvoice.imaging.volume import Volume

    folder = tmp_path / "study"
    for n, (slices, desc) in enumerate(((6, "SCOUT"), (10, "CHEST 1mm"))):
        arr = np.full((slices, 24, 20), -1000, dtype=np.int16)
        arr[:, 6:18, 4:16] = 40 + n
        write_dicom_series(
            Volume(arr, spacing=(1.0, 1.0, 2.0)),
            folder / desc.split()[0],
            series_description=desc,
            series_number=n + 1,
        )
    chosen = []

    class AutoDialog(SeriesDialog):
        def exec(self) -> int:  # no modal loop in a test: pick the preselected series
            chosen.append([s.description for s in self.series])
            return 1

    monkeypatch.setattr(mw, "SeriesDialog", AutoDialog)
    win = make_window()
    win.open_path(folder)
    qtbot.waitUntil(lambda: win.viewer.volume is not None and not win.loading, timeout=30000)
    assert sorted(chosen[0]) == ["CHEST 1mm", "SCOUT"]
    assert win.viewer.volume.shape == (10, 24, 20)  # the largest series is preselected
    win.close()
