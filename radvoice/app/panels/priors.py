"""Prior-cases panel: similar cases from the local library, best first.

Each row: thumbnail, case id, similarity, labels and a report snippet. Double-click (or Enter)
emits ``activated(PriorResult)`` and, when the row has a path, ``open_requested(path)``.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from radvoice.app.qt_bridge import GuiListener
from radvoice.components.state import PriorResult, PriorsState

THUMB = 72
SNIPPET_CHARS = 160


def item_text(result: PriorResult) -> str:
    if result.labels:
        labels = ", ".join(result.labels)
    elif result.extra.get("labels_known", True):
        labels = "no labelled findings"
    else:
        labels = "labels unknown"
    snippet = " ".join(result.report_snippet.split())
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
    return f"{result.case_id}   similarity {result.score:.2f}\n{labels}\n{snippet}".rstrip()


class PriorsPanel(QWidget):
    """Shows a :class:`PriorsState`."""

    open_requested = Signal(str)
    activated = Signal(object)  # the PriorResult of the row

    def __init__(self, state: PriorsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.stack = QStackedWidget()
        self.empty = QLabel()
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.itemActivated.connect(self._activated)
        self.list.itemDoubleClicked.connect(self._activated)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.list)
        layout.addWidget(self.stack, 1)
        self._listener = GuiListener(state.events.changed, lambda _v: self.refresh(), self)
        self.refresh()

    def detach(self) -> None:
        self._listener.detach()

    @property
    def showing_empty_state(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def refresh(self) -> None:
        results = self.state.results
        self.list.clear()
        if not results:
            self.empty.setText(self.state.status)
            self.status.setText("")
            self.stack.setCurrentWidget(self.empty)
            return
        for r in results:
            item = QListWidgetItem(item_text(r))
            item.setData(Qt.ItemDataRole.UserRole, r.path)
            item.setData(Qt.ItemDataRole.UserRole + 1, r)
            item.setToolTip(r.report_snippet or r.case_id)
            if r.thumbnail_png:
                pix = QPixmap()
                if pix.loadFromData(r.thumbnail_png, "PNG"):
                    item.setIcon(QIcon(pix))
            self.list.addItem(item)
        self.status.setText(self.state.status)
        self.stack.setCurrentWidget(self.list)

    def _activated(self, item: QListWidgetItem) -> None:
        result = item.data(Qt.ItemDataRole.UserRole + 1)
        if isinstance(result, PriorResult):
            self.activated.emit(result)
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.open_requested.emit(str(path))
