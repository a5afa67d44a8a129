"""Heat-map panel: which finding, a colour bar with the value range, opacity, threshold,
colormap, and the toggle / jump-to-maximum buttons (the ``heatmap.*`` commands)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from radvoice.app.colormaps import colormap_rgb
from radvoice.app.heatmap_state import COLORMAPS, HeatmapState
from radvoice.app.qt_bridge import GuiListener
from radvoice.commands import CommandRegistry
from radvoice.errors import RadVoiceError


class ColorBar(QWidget):
    """A horizontal colormap strip; the part below the threshold is dimmed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormap = COLORMAPS[0]
        self.threshold = 0.0
        self.setFixedHeight(14)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(200, 14)

    def set_look(self, colormap: str, threshold: float) -> None:
        self.colormap, self.threshold = colormap, float(threshold)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        r = QRectF(self.rect())
        grad = QLinearGradient(r.left(), 0, r.right(), 0)
        for t, (cr, cg, cb) in zip(np.linspace(0, 1, 16), colormap_rgb(self.colormap, 16),
                                   strict=True):  # fmt: skip
            grad.setColorAt(float(t), QColor.fromRgbF(float(cr), float(cg), float(cb)))
        p.fillRect(r, grad)
        if self.threshold > 0:
            p.fillRect(QRectF(r.left(), r.top(), r.width() * self.threshold, r.height()),
                       QColor(20, 20, 22, 190))  # fmt: skip
        p.setPen(QColor(60, 62, 68))
        p.drawRect(r.adjusted(0, 0, -1, -1))
        p.end()


class HeatmapPanel(QWidget):
    """Mirrors a :class:`HeatmapState`; the sliders set it, the buttons run commands."""

    def __init__(
        self, state: HeatmapState, commands: CommandRegistry, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.commands = commands
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel()
        self.title.setObjectName("heatmapTitle")
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.bar = ColorBar()
        self.low = QLabel()
        self.high = QLabel()
        ends = QHBoxLayout()
        ends.addWidget(self.low)
        ends.addWidget(self.bar, 1)
        ends.addWidget(self.high)
        layout.addLayout(ends)
        self.opacity = self._slider("heatmapOpacity", "Opacity of the overlay")
        self.opacity.valueChanged.connect(lambda v: self._set("opacity", v / 100))
        self.threshold = self._slider("heatmapThreshold", "Hide values below this fraction")
        self.threshold.valueChanged.connect(lambda v: self._set("threshold", v / 100))
        sliders = QHBoxLayout()
        for text, slider in (("Opacity", self.opacity), ("Threshold", self.threshold)):
            sliders.addWidget(QLabel(text))
            sliders.addWidget(slider, 1)
        layout.addLayout(sliders)
        self.colormap = QComboBox()
        self.colormap.setObjectName("heatmapColormap")
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.currentTextChanged.connect(lambda name: self._set("colormap", name))
        self.toggle = QPushButton("Show")
        self.toggle.setObjectName("heatmapToggle")
        self.toggle.setCheckable(True)
        self.toggle.clicked.connect(lambda: self._run("heatmap.toggle"))
        self.jump = QPushButton("Jump to Finding")
        self.jump.setObjectName("heatmapJump")
        self.jump.clicked.connect(lambda: self._run("heatmap.jump"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.colormap)
        buttons.addWidget(self.toggle)
        buttons.addWidget(self.jump, 1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._listener = GuiListener(state.events.changed, lambda _v: self.refresh(), self)
        self.refresh()

    def _slider(self, name: str, tip: str) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setObjectName(name)
        s.setToolTip(tip)
        s.setRange(0, 100)
        return s

    def _set(self, field: str, value) -> None:
        if not self._refreshing:
            setattr(self.state, field, value)

    def _run(self, name: str) -> None:
        try:
            self.commands.invoke(name)
        except RadVoiceError as err:
            self.state.fail(str(err))
        self.refresh()

    def detach(self) -> None:
        self._listener.detach()

    _refreshing = False

    def refresh(self) -> None:
        st = self.state
        self._refreshing = True
        try:
            self.title.setText(st.status)
            lo, hi = st.value_range
            self.low.setText(f"{lo:.2g}" if st.has_map else "")
            self.high.setText(f"{hi:.2g}" if st.has_map else "")
            self.bar.set_look(st.colormap, st.threshold)
            self.opacity.setValue(round(st.opacity * 100))
            self.threshold.setValue(round(st.threshold * 100))
            self.colormap.setCurrentText(st.colormap)
            self.toggle.setChecked(st.visible)
            self.toggle.setText("Hide" if st.visible else "Show")
            self.jump.setEnabled(st.has_map)
        finally:
            self._refreshing = False
