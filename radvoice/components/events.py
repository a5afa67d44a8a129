"""A tiny callback system for the Qt-free state objects (napari style: ``state.events.x.connect``).

Listeners run in the thread that changes the state. Views that must update on the GUI thread
connect through a Qt bridge (see :mod:`radvoice.app.qt_bridge`) that re-emits queued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[Any], object]


class EventEmitter:
    """One named event. ``connect(cb)``; ``emit(value)`` calls every listener with ``value``.

    A failing listener is logged and does not stop the others: one broken view must not take
    the state (or the other views) down with it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._blocked = 0

    def connect(self, listener: Listener) -> Listener:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)
        return listener

    def disconnect(self, listener: Listener | None = None) -> None:
        """Remove one listener, or all of them with no argument."""
        with self._lock:
            if listener is None:
                self._listeners.clear()
            elif listener in self._listeners:
                self._listeners.remove(listener)

    @property
    def listeners(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners)

    def emit(self, value: Any = None) -> None:
        if self._blocked:
            return
        for listener in self.listeners:
            try:
                listener(value)
            except Exception:  # noqa: BLE001 - a view's bug must not break the state
                log.exception("listener of event %r failed", self.name)

    def blocked(self) -> _Blocker:
        """``with emitter.blocked(): ...`` suppresses emissions inside the block."""
        return _Blocker(self)


class _Blocker:
    def __init__(self, emitter: EventEmitter) -> None:
        self._emitter = emitter

    def __enter__(self) -> None:
        self._emitter._blocked += 1

    def __exit__(self, *exc: object) -> None:
        self._emitter._blocked -= 1


class EmitterGroup:
    """Named emitters as attributes, plus ``changed`` which fires ``(name, value)`` for any."""

    def __init__(self, *names: str) -> None:
        self._names = tuple(names)
        self.changed = EventEmitter("changed")
        for name in names:
            setattr(self, name, EventEmitter(name))

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def __getitem__(self, name: str) -> EventEmitter:
        if name not in self._names:
            raise KeyError(name)
        return getattr(self, name)

    def emit(self, name: str, value: Any) -> None:
        self[name].emit(value)
        self.changed.emit((name, value))
