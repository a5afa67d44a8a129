"""What a GUI test leaves behind: top-level widgets, running QThreads, active QTimers and
``radvoice-*`` Python threads (napari's ``make_napari_viewer`` checks, for RadVoice).

:func:`watch_qt` tracks the QThreads and QTimers started inside it (by wrapping
``QThread.start`` and ``QTimer.start``) and notes the widgets and threads alive before it;
:meth:`QtWatch.leaks` lists what is still alive afterwards.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, QEvent, QThread, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import Shiboken

THREAD_PREFIX = "radvoice-"
# widgets Qt keeps for the whole process (tooltips): not a test's leak
PROCESS_WIDGETS = frozenset({"QTipLabel"})


@dataclass
class QtWatch:
    """Objects seen while watching; :meth:`leaks` says which of them outlived the test."""

    widgets_before: set[int]
    threads_before: set[int]
    qthreads: list[weakref.ref] = field(default_factory=list)
    qtimers: list[weakref.ref] = field(default_factory=list)

    def leaks(self, wait_s: float = 5.0) -> list[str]:
        """Descriptions of what is still alive, after up to ``wait_s`` for threads to end."""
        deadline = time.monotonic() + wait_s
        while True:
            flush_deletes()
            found = self._threads() + self._qthreads()
            if not found or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return self._widgets() + found + self._timers()

    def _widgets(self) -> list[str]:
        out = []
        for w in QApplication.topLevelWidgets():
            if _address(w) in self.widgets_before or type(w).__name__ in PROCESS_WIDGETS:
                continue
            out.append(f"widget {type(w).__name__} {w.objectName() or w.windowTitle()!r}")
        return out

    def _threads(self) -> list[str]:
        return [
            f"thread {t.name}"
            for t in threading.enumerate()
            if t.name.startswith(THREAD_PREFIX) and t.ident not in self.threads_before
        ]

    def _qthreads(self) -> list[str]:
        return [f"QThread {type(t).__name__}" for t in _alive(self.qthreads, QThread.isRunning)]

    def _timers(self) -> list[str]:
        return [
            f"QTimer {t.objectName() or t.interval()} ms"
            for t in _alive(self.qtimers, QTimer.isActive)
        ]


def _alive(refs: list[weakref.ref], check: Callable) -> list:
    out = []
    for ref in refs:
        obj = ref()
        if obj is None:
            continue
        try:
            if check(obj):
                out.append(obj)
        except RuntimeError:  # the C++ object is gone: not a leak
            continue
    return out


def _address(w: QWidget) -> int:
    """The C++ object's address: stable, unlike ``id()`` of a wrapper Qt created on the fly."""
    return int(Shiboken.getCppPointer(w)[0])


def flush_deletes() -> None:
    """Run pending ``deleteLater`` calls and events, then collect garbage."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    QCoreApplication.processEvents()
    gc.collect()


@contextmanager
def watch_qt() -> Iterator[QtWatch]:
    """Record what is alive now and every QThread/QTimer started until the block ends."""
    watch = QtWatch(
        widgets_before={_address(w) for w in QApplication.topLevelWidgets()},
        threads_before={t.ident for t in threading.enumerate()},
    )
    thread_start, timer_start = QThread.start, QTimer.start

    def start_thread(self, *args, **kwargs):
        watch.qthreads.append(weakref.ref(self))
        return thread_start(self, *args, **kwargs)

    def start_timer(self, *args, **kwargs):
        watch.qtimers.append(weakref.ref(self))
        return timer_start(self, *args, **kwargs)

    QThread.start, QTimer.start = start_thread, start_timer
    try:
        yield watch
    finally:
        QThread.start, QTimer.start = thread_start, timer_start


def close_windows(windows: list[QWidget]) -> None:
    """Close (the app's shutdown) and delete ``windows``, destroying their VTK render windows
    while the X server still runs."""
    for win in windows:
        win.close()
        win.deleteLater()
    flush_deletes()
