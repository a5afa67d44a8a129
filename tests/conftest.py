"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from pacs_support import orthanc, pacs_studies  # noqa: F401  (session fixtures: a private Orthanc)

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config) -> None:  # noqa: ARG001
    """Import the packages that bundle their own LLVM (triton) before any OpenGL context exists.

    Mesa llvmpipe loads its LLVM at the first VTK render; importing triton after that segfaults
    (see radvoice/app/assistant/preload.py). The app does the same at start-up.
    """
    from radvoice.app.assistant.preload import preload_llvm_users

    preload_llvm_users()


def _find_real_ct() -> Path | None:
    for cand in (REPO.parent / "shared" / "data" / "ct", REPO / ".." / "shared" / "data" / "ct"):
        if (cand / "lung1_image.nrrd").exists():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def real_ct_dir() -> Path:
    """../shared/data/ct (lung1 for anything, lung2 held out from training)."""
    path = _find_real_ct()
    if path is None:
        pytest.fail("../shared/data/ct with lung1_image.nrrd not found beside the checkout")
    return path


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001
    """Destroy every Qt widget before pytest-xvfb stops the X server.

    A VTK render window still open when Xvfb goes away makes Xlib abort the process
    ("X11 connection broke"), turning a green run into exit code 1.
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
