"""The app with bad input and many volumes: a one-line refusal in the status bar and message box
for DICOM that is not a CT volume (the open volume stays); 20 volumes opened one after another
leave no thread, timer, VTK object or memory behind."""

from __future__ import annotations

import gc
import shutil
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
from dicom_corpus import corpus_file, retyped, small_ct
from PySide6.QtCore import QObject, QThread, QTimer

from radvoice.imaging import Volume, write_dicom_series, write_volume

pytestmark = pytest.mark.gui

CR_LINE = (
    "RG1_UNCI.dcm: a CR projection radiograph (Computed Radiography Image Storage), not a CT volume"
)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))


def _window(qtbot):
    from radvoice.app.main_window import MainWindow

    win = MainWindow(volume_max_dim=32, force_cpu_volume=True, persist_settings=False)
    win.resize(900, 640)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _open(qtbot, win, path: Path) -> None:
    """Open ``path`` and wait until the load has ended (loaded or failed)."""
    volume, error = win.viewer.volume, win.last_error
    win.last_error = None
    win.open_path(path)
    qtbot.waitUntil(
        lambda: not win.loading and (win.viewer.volume is not volume or bool(win.last_error)),
        timeout=30000,
    )
    if win.last_error is None:
        win.last_error = error


def _chest(shape: tuple[int, int, int], seed: int) -> Volume:
    rng = np.random.default_rng(seed)
    arr = np.full(shape, -1000, dtype=np.int16)
    _, ny, nx = shape
    arr[:, ny // 6 : -ny // 6, nx // 8 : -nx // 8] = 40
    arr[:, ny // 4 : -ny // 4, nx // 5 : nx // 2 - 4] = -850
    arr[:, ny // 4 : -ny // 4, nx // 2 + 4 : -nx // 5] = -850
    arr += rng.integers(-20, 20, size=shape, dtype=np.int16)
    return Volume(arr, spacing=(1.2, 1.2, 2.5), origin=(-100.0, -100.0, -60.0 - seed))


def test_non_ct_dicom_is_refused_in_one_line_and_the_open_volume_stays(qtbot, tmp_path):
    ct = write_volume(_chest((12, 40, 48), 0), tmp_path / "chest.nrrd")
    cr = Path(shutil.copy(corpus_file("RG1_UNCI.dcm"), tmp_path))
    pet = retyped(tmp_path / "pet", "1.2.840.10008.5.1.4.1.1.128", "PT", n=3)[0].parent
    win = _window(qtbot)
    _open(qtbot, win, ct)
    shown = win.viewer.volume
    assert shown is not None and win.last_error is None, win.last_error

    _open(qtbot, win, cr)
    assert win.last_error == CR_LINE
    assert win.statusBar().currentMessage() == CR_LINE
    assert win._error_box is not None and win._error_box.text() == CR_LINE
    assert win.viewer.volume is shown  # nothing lost
    win._error_box.close()

    _open(qtbot, win, pet)  # a folder of PET images only
    assert "a PET image (Positron Emission Tomography Image Storage)" in win.last_error
    assert "\n" not in win.last_error and win.viewer.volume is shown

    (tmp_path / "one").mkdir()  # a lone CT slice with pixel spacing: opens, nothing breaks
    shutil.copy(corpus_file("CT_small.dcm"), tmp_path / "one")
    _open(qtbot, win, tmp_path / "one")
    assert win.viewer.volume is not shown and win.viewer.volume.shape == (1, 128, 128)
    for _ in range(3):
        win.commands.invoke("view.slice.next")
    win.render_now()
    shown = win.viewer.volume

    study = tmp_path / "study"  # CT + CR + SR: the CT opens, no series to choose
    write_dicom_series(small_ct(6), study / "ct")
    shutil.copy(cr, study)
    shutil.copy(corpus_file("test-SR.dcm"), study)
    _open(qtbot, win, study)
    assert win.viewer.volume is not shown and win.viewer.volume.shape == (6, 12, 10)
    win.close()


def _children(obj: QObject) -> list[QObject]:
    out = []
    for child in obj.children():
        out.append(child)
        out.extend(_children(child))
    return out


def _counts(win) -> dict[str, int]:
    from vtkmodules.vtkCommonCore import vtkObjectBase
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    gc.collect()
    children = _children(win)
    objects = gc.get_objects()
    props = 0
    for view in win.views.values():
        for renderer in view.render_window.GetRenderers():
            props += renderer.GetViewProps().GetNumberOfItems()
    return {
        "threads": len(threading.enumerate()),
        "qthreads": sum(isinstance(c, QThread) for c in children),
        "qtimers": sum(isinstance(c, QTimer) for c in children),
        "active_timers": sum(isinstance(c, QTimer) and c.isActive() for c in children),
        "vtk_objects": sum(isinstance(o, vtkObjectBase) for o in objects),
        "render_windows": sum(isinstance(o, vtkRenderWindow) for o in objects),
        "view_props": props,
    }


@pytest.mark.slow
def test_twenty_volumes_leave_nothing_behind(qtbot, tmp_path):
    import psutil

    shapes = [(40, 160, 176), (48, 176, 160), (36, 168, 168), (44, 160, 160)]
    files = [
        write_volume(_chest(shape, n), tmp_path / f"case{n}.nrrd") for n, shape in enumerate(shapes)
    ]
    win = _window(qtbot)
    process = psutil.Process()
    volumes: list[weakref.ref] = []
    rss: list[int] = []
    counts: list[dict[str, int]] = []
    for n in range(20):
        _open(qtbot, win, files[n % len(files)])
        assert win.last_error is None
        volumes.append(weakref.ref(win.viewer.volume))
        win.render_now()
        qtbot.wait(50)
        counts.append(_counts(win))
        rss.append(process.memory_info().rss)
    growth = rss[-1] / rss[2] - 1
    print(
        f"\nRSS after load 3: {rss[2] / 2**20:.0f} MiB, after 20: {rss[-1] / 2**20:.0f} MiB "
        f"({100 * growth:+.1f} %); counts after 3: {counts[2]}; after 20: {counts[-1]}"
    )
    for key in counts[2]:
        assert counts[-1][key] <= counts[2][key], (key, counts[2], counts[-1])
    assert growth <= 0.10
    gc.collect()
    alive = [n for n, ref in enumerate(volumes) if ref() is not None]
    assert alive == [19], alive  # only the open volume
    win.close()
