"""``run_app``: start the Qt application with the viewer (used by ``radvoice`` / ``radvoice gui``)."""

from __future__ import annotations

import logging
import os
import sys

from radvoice.errors import RadVoiceError


class NoDisplayError(RadVoiceError):
    """Qt cannot open a window: no X/Wayland display."""


def check_display() -> None:
    """Fail with a clear message instead of Qt aborting when there is no screen."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] not in ("", "xcb", "wayland"):
            return
        raise NoDisplayError(
            "no display found: run on a desktop, or headless with "
            "xvfb-run -a -s '-screen 0 1600x1000x24' radvoice ..."
        )


def application():
    """The QApplication (created once, dark theme applied)."""
    from PySide6.QtWidgets import QApplication

    from radvoice.app.settings import APPLICATION, ORGANIZATION
    from radvoice.app.theme import apply_dark_theme

    app = QApplication.instance()
    if app is None:
        check_display()
        app = QApplication(sys.argv[:1])
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationName(APPLICATION)
        apply_dark_theme(app)
    return app


def run_app(path: str | None) -> int:
    """Open the viewer on ``path`` (file or DICOM folder), or on the embedded sample case.

    The window and the case come first; push-to-talk and the assistant attach once the model
    stack is imported in the background (:mod:`radvoice.app.startup`)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from radvoice import imaging

    target = str(path) if path else str(imaging.sample_case_path())
    if path and not os.path.exists(path):
        raise RadVoiceError(f"{path}: no such file or folder")
    from radvoice.app.assistant.preload import block_llvm_users

    block_llvm_users()  # Mesa's LLVM and triton's collide; the app never needs triton
    app = application()
    from radvoice.app.main_window import MainWindow
    from radvoice.app.startup import attach_when_ready

    window = MainWindow()
    window.show()
    window.open_path(target)
    attach_when_ready(window, attach_model_stack)
    code = app.exec()
    window.shutdown()
    return int(code)


def attach_model_stack(window) -> None:
    """Push-to-talk (microphone + dictation mics → talk.push), then the assistant."""
    from radvoice.app.talk_bridge import attach_talk_bridge

    attach_talk_bridge(window)
    from radvoice.app.assistant import attach_assistant

    attach_assistant(window)  # models (findings, spoken questions) + the case library
