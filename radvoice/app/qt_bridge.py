"""Deliver state events on the GUI thread, whatever thread changed the state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from radvoice.components.events import EventEmitter


class GuiListener(QObject):
    """Connects ``emitter`` to ``slot`` through a queued Qt signal when crossing threads.

    Create it on the GUI thread with a QObject parent (the view): it disconnects itself from
    the emitter when the parent is destroyed or :meth:`detach` is called.
    """

    fired = Signal(object)

    def __init__(self, emitter: EventEmitter, slot: Callable[[Any], object], parent: QObject):
        super().__init__(parent)
        self._emitter = emitter
        self.fired.connect(slot)
        emitter.connect(self._relay)
        self.destroyed.connect(lambda *_: emitter.disconnect(self._relay))

    def _relay(self, value: Any) -> None:
        self.fired.emit(value)

    def detach(self) -> None:
        self._emitter.disconnect(self._relay)
