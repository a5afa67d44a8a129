"""The dark theme: Fusion style, a dark palette and ``resources/ui/dark.qss``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

QSS_PATH = Path(__file__).resolve().parents[2] / "resources" / "ui" / "dark.qss"


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(32, 33, 36), QColor(28, 29, 32), QColor(220, 220, 222)
    highlight = QColor(62, 106, 165)
    for role, color in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor(38, 39, 43)),
        (QPalette.ColorRole.ToolTipBase, QColor(45, 46, 50)),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor(44, 45, 50)),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Link, QColor(110, 160, 230)),
        (QPalette.ColorRole.Highlight, highlight),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(130, 133, 140)),
    ):
        p.setColor(role, color)
    disabled = QColor(120, 122, 128)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_dark_theme(app: QApplication) -> None:
    """Fusion + dark palette + the qss (when the resources folder is present)."""
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    if QSS_PATH.is_file():
        app.setStyleSheet(QSS_PATH.read_text(encoding="utf-8"))
