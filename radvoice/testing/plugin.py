"""pytest plugin: RadVoice's shared fixtures (``pytest_plugins = ["radvoice.testing.plugin"]``).

* ``real_ct_dir`` — ``../shared/data/ct`` beside the checkout (lung2 never enters training).
* ``make_main_window`` — a factory of shown main windows; after the test it closes them and
  fails the test if a widget, QThread, QTimer or ``radvoice-*`` thread outlived it.
  :func:`main_window_session` is the same for a module-scoped window.

Qt is imported only when a window is made, so headless tests load this plugin for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WINDOW_DEFAULTS: dict[str, Any] = {"force_cpu_volume": True, "persist_settings": False}


class QtLeakError(AssertionError):
    """A GUI test left widgets, threads or timers alive."""


def pytest_configure(config) -> None:  # noqa: ARG001
    """Import the packages that bundle their own LLVM (triton) before any OpenGL context exists.

    Mesa llvmpipe loads its LLVM at the first VTK render; importing triton after that segfaults
    (see radvoice/app/assistant/preload.py). The app does the same at start-up.
    """
    from radvoice.app.assistant.preload import preload_llvm_users

    preload_llvm_users()


def find_real_ct() -> Path | None:
    for cand in (REPO.parent / "shared" / "data" / "ct", REPO / ".." / "shared" / "data" / "ct"):
        if (cand / "lung1_image.nrrd").exists():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def real_ct_dir() -> Path:
    """../shared/data/ct (lung1 for anything, lung2 held out from training)."""
    path = find_real_ct()
    if path is None:
        pytest.fail("../shared/data/ct with lung1_image.nrrd not found beside the checkout")
    return path


@contextmanager
def main_window_session() -> Iterator[Callable[..., Any]]:
    """Yield ``make(show=True, size=(1100, 700), **MainWindow kwargs)``; at the end close every
    window made and raise :class:`QtLeakError` naming what is still alive."""
    from pytestqt.qtbot import QtBot

    from radvoice.app.main_window import MainWindow
    from radvoice.testing.qt_leaks import close_windows, watch_qt

    made: list[MainWindow] = []
    with watch_qt() as watch:

        def make(show: bool = True, size: tuple[int, int] = (1100, 700), **kwargs) -> MainWindow:
            win = MainWindow(**{**WINDOW_DEFAULTS, **kwargs})
            made.append(win)
            win.resize(*size)
            if show:
                win.show()
                QtBot(None).waitExposed(win)
            return win

        try:
            yield make
        finally:
            close_windows(made)
        leaks = watch.leaks()
    if leaks:
        raise QtLeakError("left alive after the test: " + "; ".join(leaks))


@pytest.fixture
def make_main_window(qapp, tmp_path, monkeypatch) -> Iterator[Callable[..., Any]]:  # noqa: ARG001
    """A factory of main windows (settings in ``tmp_path``, not persisted, CPU volume rendering)
    that fails the test on leaked widgets, QThreads, QTimers and ``radvoice-*`` threads."""
    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))
    leak = None
    try:
        with main_window_session() as make:
            yield make
    except QtLeakError as err:
        leak = str(err)
    if leak is not None:
        pytest.fail(leak, pytrace=False)


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001
    """Destroy every Qt widget before pytest-xvfb stops the X server.

    A VTK render window still open when Xvfb goes away makes Xlib abort the process
    ("X11 connection broke"), turning a green run into exit code 1. Leaks are failed earlier,
    per test, by ``make_main_window``; this is only the last safety net.
    """
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    # widgets already closed and handed to deleteLater (a detached chart) go first: closing
    # one again can fail (pyqtgraph's PlotWidget has no PlotItem after close)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    for widget in QApplication.topLevelWidgets():
        widget.close()
        widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    app.processEvents()
    gc.collect()
