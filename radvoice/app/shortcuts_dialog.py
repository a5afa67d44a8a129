"""A dialog to reassign the keyboard shortcuts of the command registry."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radvoice.commands import CommandRegistry, ShortcutConflictError, normalize_shortcut


class ShortcutsDialog(QDialog):
    """Command | category | shortcut editor. OK applies the changes to the registry."""

    def __init__(self, commands: CommandRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(560, 560)
        self.commands = commands
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Click a shortcut and press the new keys (Backspace clears)."))
        cmds = commands.list()
        self.table = QTableWidget(len(cmds), 3)
        self.table.setHorizontalHeaderLabels(["Command", "Category", "Shortcut"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.editors: dict[str, QKeySequenceEdit] = {}
        for row, cmd in enumerate(cmds):
            self.table.setItem(row, 0, QTableWidgetItem(cmd.title))
            self.table.setItem(row, 1, QTableWidgetItem(cmd.category))
            edit = QKeySequenceEdit(QKeySequence(cmd.shortcut or ""))
            edit.setMaximumSequenceLength(1)
            edit.setClearButtonEnabled(True)
            self.table.setCellWidget(row, 2, edit)
            self.editors[cmd.name] = edit
        layout.addWidget(self.table, 1)
        self.error = QLabel()
        self.error.setStyleSheet("color: #ff7b72;")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )
        layout.addWidget(buttons)

    def chosen(self) -> dict[str, str | None]:
        """The shortcut in each editor, normalised (None for none)."""
        return {
            name: normalize_shortcut(
                edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
            )
            for name, edit in self.editors.items()
        }

    def conflicts(self) -> list[str]:
        seen: dict[str, str] = {}
        problems = []
        for name, key in self.chosen().items():
            if key is None:
                continue
            if key in seen:
                a, b = self.commands.get(seen[key]).title, self.commands.get(name).title
                problems.append(f"{key} is used by both {a!r} and {b!r}")
            seen[key] = name
        return problems

    def restore_defaults(self) -> None:
        for name, edit in self.editors.items():
            edit.setKeySequence(QKeySequence(self.commands.get(name).default_shortcut or ""))

    def apply(self) -> bool:
        """Write the editors into the registry; False (and a message) on a conflict."""
        problems = self.conflicts()
        if problems:
            self.error.setText(problems[0])
            return False
        chosen = self.chosen()
        for name in chosen:  # clear first so that swaps between commands succeed
            if self.commands.get(name).shortcut != chosen[name]:
                self.commands.set_shortcut(name, None)
        try:
            for name, key in chosen.items():
                self.commands.set_shortcut(name, key)
        except ShortcutConflictError as err:
            self.error.setText(str(err))
            return False
        return True

    def accept(self) -> None:
        if self.apply():
            super().accept()
