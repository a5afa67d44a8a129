"""Start-up order of the app: the window and the sample case first, the model stack after.

torch, torchaudio, faiss and the model code take seconds to import on a busy 2-core CPU; the
viewer needs none of them. :func:`attach_when_ready` imports them on a background thread while
the window opens and the case loads (the window says what is loading), then attaches
push-to-talk and the assistant on the GUI thread; the assistant then loads the models in the
background (:mod:`radvoice.assistant.warmup`).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
# Qt-free modules only: Qt classes are created on the GUI thread
HEAVY_MODULES = (
    "torch",
    "radvoice.audio",
    "radvoice.nn.pipeline",
    "radvoice.assistant",
    "radvoice.library",
)
LOADING_FINDINGS = "Loading the models…"
LOADING_TALK = "Loading push-to-talk and the speech model…"


class _Relay(QObject):
    done = Signal(float)


def import_heavy_modules(names: tuple[str, ...] = HEAVY_MODULES) -> float:
    """Import ``names`` (errors are left for the attach step to report); returns seconds."""
    t0 = time.perf_counter()
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - the GUI-thread import reports it properly
            log.warning("background import of %s failed (%s)", name, type(err).__name__)
    return time.perf_counter() - t0


def attach_when_ready(window, attach: Callable[[object], None]) -> threading.Thread:
    """Import the model stack off the GUI thread, then call ``attach(window)`` on it."""
    window.findings.clear(LOADING_FINDINGS)
    window.talk.set_message(LOADING_TALK)
    window.model_stack_loading = True  # talk.push says "still loading", not "unavailable"
    relay = _Relay(window)

    def attached(seconds: float) -> None:
        log.info("model stack imported in %.1f s", seconds)
        if not window.closed:
            try:
                attach(window)
            finally:
                window.model_stack_loading = False

    relay.done.connect(attached)
    window._startup_relay = relay  # kept alive with the window
    thread = threading.Thread(
        target=lambda: relay.done.emit(import_heavy_modules()), name="radvoice-imports", daemon=True
    )
    thread.start()
    return thread
