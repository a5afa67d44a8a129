"""A PACS task off the GUI thread: progress, cancel, one-line failures (the app stays up)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)

TaskFn = Callable[[Callable[[int, int], None], threading.Event], Any]


class PacsTask(QThread):
    """Runs ``fn(progress, cancel_event)``; emits ``done(result)`` or ``failed(message)``."""

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: TaskFn, what: str, parent=None) -> None:
        super().__init__(parent)
        self._fn = fn
        self.what = what
        self.cancel_event = threading.Event()
        self.completed = False  # set before done/failed is emitted: the work is over

    def busy(self) -> bool:
        return self.isRunning() and not self.completed

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            result = self._fn(lambda d, n: self.progress.emit(int(d), int(n)), self.cancel_event)
        except RadVoiceError as err:
            self.completed = True
            self.failed.emit(str(err).splitlines()[0])
        except Exception as err:  # noqa: BLE001 - the GUI must stay up
            log.exception("PACS task failed: %s", self.what)
            self.completed = True
            self.failed.emit(f"{self.what} failed ({type(err).__name__})")
        else:
            self.completed = True
            self.done.emit(result)
