"""Findings panel: a horizontal bar chart of the 18 CT-RATE label probabilities.

Sorted by probability, the queried label first and highlighted (a near-tie alternative of the
question next, outlined more faintly), thresholds as tick marks.
Until a model has answered it shows an empty state, never placeholder numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from radvoice.app.qt_bridge import GuiListener
from radvoice.components.state import FindingsState

ABOVE = (226, 122, 58)
BELOW = (88, 118, 160)
NEUTRAL = (130, 134, 142)  # no threshold known for this label
QUERIED_PEN = (250, 220, 90)
ALTERNATIVE_PEN = (250, 220, 90, 120)
CAPTION = "Research use only · ticks: thresholds from synthetic data"
CAPTION_TIP = (
    "Not for clinical use: the models were trained on synthetic CTs. The ticks are thresholds "
    "calibrated on synthetic cases; on a real scan they are a reference, not a call."
)


def display_order(
    probabilities: dict[str, float], queried: str | None, alternatives: Sequence[str] = ()
) -> list[tuple[str, float]]:
    """Labels top to bottom: the queried label, its alternatives, then by descending
    probability."""
    items = sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
    if queried is None or queried not in probabilities:
        return items
    first = [queried] + [a for a in alternatives if a in probabilities and a != queried]
    return [(k, probabilities[k]) for k in first] + [kv for kv in items if kv[0] not in first]


class FindingsPanel(QWidget):
    """Shows a :class:`FindingsState`; updates on the GUI thread."""

    def __init__(self, state: FindingsState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.order: list[tuple[str, float]] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.stack = QStackedWidget()
        self.empty = QLabel()
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.stack.addWidget(self.empty)

        self.plot = pg.PlotWidget(background=(28, 29, 32))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getViewBox().invertY(True)
        self.plot.setXRange(0.0, 1.0, padding=0.02)
        self.plot.setLabel("bottom", "probability")
        # three inner ticks: the chart is narrow beside long labels, finer ones run together
        ticks = [(v, f"{v:g}") for v in (0.25, 0.5, 0.75)]
        self.plot.getAxis("bottom").setTicks([ticks, []])
        self.plot.showGrid(x=True, y=False, alpha=0.2)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self.plot.addItem(self.bars)
        self.markers = pg.ScatterPlotItem(symbol="|", size=16, pen=pg.mkPen("w", width=2))
        self.plot.addItem(self.markers)
        self.stack.addWidget(self.plot)
        layout.addWidget(self.stack, 1)
        self.caption = QLabel(CAPTION)
        self.caption.setObjectName("caption")
        self.caption.setWordWrap(True)
        self.caption.setToolTip(CAPTION_TIP)
        layout.addWidget(self.caption)

        self._listeners = [
            GuiListener(state.events.changed, lambda _v: self.refresh(), self),
        ]
        self.refresh()

    def detach(self) -> None:
        """Stop listening and tear the chart down while Qt is still whole: a pyqtgraph scene
        destroyed later by the garbage collector can crash PySide6 in QGraphicsScene::clear."""
        for listener in self._listeners:
            listener.detach()
        if self.plot is not None:
            self.plot.clear()
            self.stack.removeWidget(self.plot)
            self.plot.close()  # pyqtgraph: closes the PlotItem and unparents the widget
            self.plot.deleteLater()
            self.plot = None  # type: ignore[assignment]

    @property
    def showing_empty_state(self) -> bool:
        return self.stack.currentWidget() is self.empty

    def refresh(self) -> None:
        if self.plot is None:
            return
        st = self.state
        probs = st.probabilities
        if not probs:
            self.order = []
            self.empty.setText(st.status)
            self.status.setText("")
            self.stack.setCurrentWidget(self.empty)
            self.caption.hide()
            return
        thresholds = st.thresholds
        queried = st.queried_label
        also = st.alternatives
        self.order = display_order(probs, queried, also)
        n = len(self.order)
        ys = list(range(n))
        widths = [p for _label, p in self.order]
        brushes = [pg.mkBrush(*_bar_color(p, thresholds.get(label))) for label, p in self.order]
        pens = [
            pg.mkPen(QUERIED_PEN, width=2)
            if label == queried
            else pg.mkPen(ALTERNATIVE_PEN, width=1)
            if label in also
            else pg.mkPen(None)
            for label, _p in self.order
        ]
        self.bars.setOpts(x0=[0.0] * n, y=ys, width=widths, height=0.7, brushes=brushes, pens=pens)
        marks = [
            (thresholds[label], y)
            for y, (label, _p) in enumerate(self.order)
            if label in thresholds
        ]
        self.markers.setData(x=[m[0] for m in marks], y=[m[1] for m in marks])
        axis = self.plot.getAxis("left")
        ticks = [(y, _tick(label, p)) for y, (label, p) in enumerate(self.order)]
        axis.setTicks([ticks, []])
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        axis.setWidth(max(metrics.horizontalAdvance(t) for _y, t in ticks) + 16)
        self.plot.setYRange(-0.6, n - 0.4, padding=0)
        lines = []
        if queried is not None:
            p = probs[queried]
            thr = thresholds.get(queried)
            verdict = (
                "" if thr is None else (" — above threshold" if p >= thr else " — below threshold")
            )
            lines.append(f"<b>{queried}</b>: {p:.2f}{verdict}")
            lines.extend(f"or <b>{a}</b>: {probs[a]:.2f}" for a in also if a in probs)
        if st.status:
            lines.append(st.status)
        self.status.setText("<br>".join(lines))
        self.stack.setCurrentWidget(self.plot)
        self.caption.show()


def _bar_color(p: float, threshold: float | None) -> tuple[int, int, int]:
    if threshold is None:
        return NEUTRAL
    return ABOVE if p >= threshold else BELOW


def _tick(label: str, p: float) -> str:
    return f"{label}  {p:.2f}"
