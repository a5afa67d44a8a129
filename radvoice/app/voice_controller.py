"""Voice commands in the window: the engine's command handler, confirmation, undo, help, settings.

:meth:`VoiceController.handler` is what ``Assistant.set_command_handler`` gets: it may be called
from the assistant's worker thread and only emits a queued signal; on the GUI thread the
Qt-free :class:`~radvoice.app.voice_actions.VoiceActions` snapshots the viewer, invokes the
command by name and records it. The confirmation ("Lung window ← voice, 0.93" with an Undo
button) sits in the talk panel and the status bar.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from radvoice.app.settings import read_bool
from radvoice.app.voice_actions import (
    Outcome,
    VoiceActions,
    VoiceResult,
    VoiceSettings,
    restore_viewer,
    viewer_snapshot,
)
from radvoice.app.voice_help import help_html, spec_title

log = logging.getLogger(__name__)


def load_voice_settings(settings) -> VoiceSettings:
    try:
        threshold = float(settings.value("voice/threshold", VoiceSettings.threshold))
    except (TypeError, ValueError):
        threshold = VoiceSettings.threshold
    return VoiceSettings(
        read_bool(settings, "voice/enabled", True),
        threshold,
        read_bool(settings, "voice/transcript", True),
    )


def save_voice_settings(settings, vs: VoiceSettings) -> None:
    settings.setValue("voice/enabled", vs.enabled)
    settings.setValue("voice/threshold", vs.threshold)
    settings.setValue("voice/transcript", vs.transcript)
    settings.sync()


class VoiceConfirmation(QFrame):
    """One line: what the last voice action did, and an Undo button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voiceConfirmation")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 2, 2)
        self.label = QLabel()
        self.label.setObjectName("voiceConfirmationText")
        self.label.setWordWrap(True)
        self.undo = QPushButton("Undo")
        self.undo.setObjectName("voiceUndo")
        self.undo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.undo.setToolTip("Undo the last voice action (or say “scratch that”)")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.undo)
        self.setVisible(False)

    def show_result(self, result: VoiceResult, can_undo: bool) -> None:
        self.label.setText(result.message)
        self.undo.setVisible(result.outcome is Outcome.DONE and can_undo)
        self.setVisible(True)


class VoiceController(QObject):
    """One per window (``window.voice``)."""

    executed = Signal(object)  # a VoiceResult, on the GUI thread
    settings_changed = Signal(object)  # VoiceSettings
    _command_in = Signal(str, float)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.closed = False
        self.actions = VoiceActions(
            window.commands, load_voice_settings(window.settings), titles=spec_title
        )
        viewer = window.viewer
        self.actions.add_provider("viewer", lambda: viewer_snapshot(viewer),
                                  lambda s: restore_viewer(viewer, s))  # fmt: skip
        heat = window.heatmap
        self.actions.add_provider("heatmap", lambda: heat.visible,
                                  lambda v: setattr(heat, "visible", v))  # fmt: skip
        views = window.slice_views
        self.actions.add_provider(
            "cameras",
            lambda: {n: v.camera_state() for n, v in views.items() if not v.closed},
            lambda s: [views[n].set_camera_state(c) for n, c in s.items()],
        )
        self.confirmation = VoiceConfirmation()
        self.confirmation.undo.clicked.connect(self.undo)
        self.help_dialog: QDialog | None = None
        self.settings_dialog: VoiceSettingsDialog | None = None
        self._command_in.connect(self.run_command)

    @property
    def settings(self) -> VoiceSettings:
        return self.actions.settings

    def handler(self, name: str, confidence: float) -> None:
        """``Assistant.set_command_handler`` target: any thread, returns at once."""
        if not self.closed:
            self._command_in.emit(str(name), float(confidence))

    def run_command(self, name: str, confidence: float) -> VoiceResult | None:
        """Execute a spoken command (GUI thread)."""
        if self.closed:
            return None
        result = self.actions.handle(name, confidence)
        self._show(result)
        return result

    def undo(self) -> VoiceResult | None:
        if self.closed:
            return None
        result = self.actions.undo()
        self._show(result)
        return result

    def _show(self, result: VoiceResult) -> None:
        log.info("voice: %s", result.message)
        self.confirmation.show_result(result, self.actions.can_undo)
        self.window.statusBar().showMessage(result.message, 8000)
        self.executed.emit(result)

    # -- help and settings --------------------------------------------------------------------
    def show_help(self) -> QDialog:
        """The non-modal "What can I say?" panel (raised when already open)."""
        if self.help_dialog is None:
            dialog = QDialog(self.window)
            dialog.setObjectName("voiceHelp")
            dialog.setWindowTitle("What can I say?")
            dialog.resize(620, 640)
            layout = QVBoxLayout(dialog)
            self.help_text = QTextBrowser()
            layout.addWidget(self.help_text)
            self.help_dialog = dialog
        self.help_text.setHtml(help_html(self.window.commands))
        self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog

    def edit_settings(self) -> VoiceSettingsDialog:
        if self.settings_dialog is None:
            self.settings_dialog = VoiceSettingsDialog(self.window)
            self.settings_dialog.accepted.connect(
                lambda: self.apply_settings(self.settings_dialog.values())
            )
        self.settings_dialog.set_values(self.settings)
        self.settings_dialog.open()
        return self.settings_dialog

    def apply_settings(self, vs: VoiceSettings) -> None:
        self.actions.settings = vs
        if self.window.persist_settings:
            save_voice_settings(self.window.settings, vs)
        self.settings_changed.emit(vs)

    def close(self) -> None:
        self.closed = True
        for dialog in (self.help_dialog, self.settings_dialog):
            if dialog is not None:
                dialog.close()


class VoiceSettingsDialog(QDialog):
    """Voice commands on/off, their confidence threshold, the "heard: …" transcript."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voiceSettings")
        self.setWindowTitle("Voice settings")
        form = QFormLayout(self)
        self.enabled = QCheckBox("Spoken viewer commands (“lung window”, “next slice”…)")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip("A command heard with less confidence is not run")
        self.transcript = QCheckBox("Show what was heard (Whisper transcript, after the answer)")
        form.addRow(self.enabled)
        form.addRow("Confidence threshold", self.threshold)
        form.addRow(self.transcript)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def set_values(self, vs: VoiceSettings) -> None:
        self.enabled.setChecked(vs.enabled)
        self.threshold.setValue(vs.threshold)
        self.transcript.setChecked(vs.transcript)

    def values(self) -> VoiceSettings:
        return VoiceSettings(
            self.enabled.isChecked(), self.threshold.value(), self.transcript.isChecked()
        )
