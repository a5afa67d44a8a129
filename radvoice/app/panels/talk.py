"""Push-to-talk area: phase, a level meter, elapsed time, the last message, what was heard
(the ASR transcript, beneath the answer) and a hold button.

The button invokes the ``talk.push`` command's press/release through the command registry, so
the keyboard, a dictation microphone and the button all behave the same.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from radvoice.app.qt_bridge import GuiListener
from radvoice.commands import CommandRegistry
from radvoice.components.state import TalkPhase, TalkState
from radvoice.errors import RadVoiceError

METER_FLOOR_DBFS = -60.0
PHASE_TEXT = {
    TalkPhase.IDLE: "Idle",
    TalkPhase.LISTENING: "Listening…",
    TalkPhase.THINKING: "Thinking…",
    TalkPhase.ERROR: "Error",
}


def meter_fraction(dbfs: float, floor: float = METER_FLOOR_DBFS) -> float:
    """dBFS -> [0, 1] along the meter (floor..0 dBFS)."""
    return min(max((float(dbfs) - floor) / -floor, 0.0), 1.0)


class LevelMeter(QWidget):
    """A horizontal dBFS meter (green / amber above -12 / red above -3) with a peak tick."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_dbfs = -120.0
        self.peak_dbfs = -120.0
        self.setFixedHeight(16)
        self.setToolTip("Microphone level (dBFS)")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(200, 16)

    def set_levels(self, level: float, peak: float) -> None:
        self.level_dbfs, self.peak_dbfs = float(level), float(peak)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt name
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.fillRect(r, QColor(24, 25, 28))
        w = r.width()
        frac = meter_fraction(self.level_dbfs)
        for lo, hi, color in (
            (-60, -12, (80, 190, 90)),
            (-12, -3, (230, 190, 70)),
            (-3, 0, (220, 70, 60)),
        ):
            a, b = meter_fraction(lo), min(meter_fraction(hi), frac)
            if b > a:
                p.fillRect(
                    QRectF(r.left() + a * w, r.top(), (b - a) * w, r.height()), QColor(*color)
                )
        if self.peak_dbfs > METER_FLOOR_DBFS:
            x = r.left() + meter_fraction(self.peak_dbfs) * w
            p.setPen(QColor(240, 240, 240))
            p.drawLine(int(x), int(r.top()), int(x), int(r.bottom()))
        p.setPen(QColor(60, 62, 68))
        p.drawRect(r)
        p.end()


class TalkPanel(QWidget):
    """Shows a :class:`TalkState`; the button drives the ``talk.push`` command."""

    def __init__(
        self,
        state: TalkState,
        commands: CommandRegistry,
        command: str = "talk.push",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.commands = commands
        self.command = command
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.phase = QLabel()
        self.phase.setObjectName("talkPhase")
        self.elapsed = QLabel()
        self.elapsed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.phase)
        top.addStretch(1)
        top.addWidget(self.elapsed)
        layout.addLayout(top)
        self.meter = LevelMeter()
        layout.addWidget(self.meter)
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.transcript = QLabel()
        self.transcript.setObjectName("talkTranscript")
        self.transcript.setWordWrap(True)
        self.transcript.setStyleSheet("color: #9aa0a8; font-style: italic;")
        layout.addWidget(self.transcript)
        self.button = QPushButton("Hold to talk")
        self.button.setObjectName("talkButton")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.pressed.connect(self._press)
        self.button.released.connect(self._release)
        layout.addWidget(self.button)
        layout.addStretch(1)
        self._listener = GuiListener(state.events.changed, lambda _v: self.refresh(), self)
        self.refresh()

    def add_widget(self, widget: QWidget) -> None:
        """Put another part's widget (the voice confirmation) above the talk button."""
        layout = self.layout()
        layout.insertWidget(layout.indexOf(self.button), widget)

    def detach(self) -> None:
        self._listener.detach()

    def refresh(self) -> None:
        st = self.state
        self.phase.setText(PHASE_TEXT[st.phase])
        self.phase.setProperty("phase", st.phase.value)
        self.phase.style().unpolish(self.phase)
        self.phase.style().polish(self.phase)
        self.meter.set_levels(st.level_dbfs, st.peak_dbfs)
        show_clock = st.phase in (TalkPhase.LISTENING, TalkPhase.THINKING) or st.elapsed_s > 0
        self.elapsed.setText(f"{st.elapsed_s:.1f} s" if show_clock else "")
        self.message.setText(st.message)
        self.transcript.setText(st.transcript)
        self.transcript.setVisible(bool(st.transcript))
        shortcut = (
            self.commands.get(self.command).shortcut if self.command in self.commands else None
        )
        self.button.setToolTip(f"Hold to talk ({shortcut})" if shortcut else "Hold to talk")

    def _press(self) -> None:
        try:
            self.commands.press(self.command)
        except RadVoiceError as err:
            self.state.fail(str(err))

    def _release(self) -> None:
        try:
            self.commands.release(self.command)
        except RadVoiceError as err:
            self.state.fail(str(err))
