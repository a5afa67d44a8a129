"""Bind the command registry to Qt: one QAction per command, menus, toolbar, hold keys."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar, QWidget

from radvoice.commands import Command, CommandRegistry

ErrorSink = Callable[[str], None]


class ActionBinder(QObject):
    """Keeps a QAction in sync with each command (title, shortcut, enabled, checked).

    Hold commands (``talk.push``) get no QAction shortcut: a QAction only knows "triggered",
    so their keys are handled by :class:`HoldKeyFilter` with press and release.
    """

    def __init__(self, commands: CommandRegistry, host: QWidget, on_error: ErrorSink) -> None:
        super().__init__(host)
        self.commands = commands
        self.host = host
        self.on_error = on_error
        self.actions: dict[str, QAction] = {}
        self.groups: dict[str, QActionGroup] = {}
        for cmd in commands:
            self._create(cmd)
        self._unsubscribe = commands.subscribe(self._on_registry)

    def detach(self) -> None:
        self._unsubscribe()

    def _create(self, cmd: Command) -> QAction:
        action = QAction(cmd.title, self.host)
        action.setObjectName(f"action:{cmd.name}")
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False, name=cmd.name: self.invoke(name))
        self.host.addAction(action)
        self.actions[cmd.name] = action
        self._sync(cmd)
        return action

    def _sync(self, cmd: Command) -> None:
        action = self.actions[cmd.name]
        action.setText(cmd.title)
        action.setEnabled(cmd.enabled)
        action.setCheckable(cmd.checkable)
        if cmd.checkable:
            action.setChecked(cmd.checked)
        keys = QKeySequence(cmd.shortcut) if cmd.shortcut else QKeySequence()
        if cmd.is_hold:
            action.setShortcut(QKeySequence())
            tip = f"{cmd.title} (hold {cmd.shortcut})" if cmd.shortcut else cmd.title
        else:
            action.setShortcut(keys)
            tip = f"{cmd.title} ({cmd.shortcut})" if cmd.shortcut else cmd.title
        action.setToolTip(cmd.tooltip or tip)
        action.setStatusTip(cmd.tooltip or cmd.title)

    def _on_registry(self, kind: str, cmd: Command) -> None:
        if kind == "registered":
            self._create(cmd)
        elif kind == "changed" and cmd.name in self.actions:
            self._sync(cmd)
        elif kind == "removed":
            action = self.actions.pop(cmd.name, None)
            if action is not None:
                self.host.removeAction(action)
                action.deleteLater()

    def invoke(self, name: str) -> None:
        """Run a command from a menu/toolbar/shortcut; user-facing errors go to ``on_error``."""
        from radvoice.errors import RadVoiceError

        try:
            self.commands.invoke(name)
        except RadVoiceError as err:
            self.on_error(str(err))
        finally:
            cmd = self.commands.get(name) if name in self.commands else None
            if cmd is not None and cmd.checkable and name in self.actions:
                self.actions[name].setChecked(cmd.checked)

    def exclusive(self, group: str, names: list[str]) -> None:
        """Make checkable commands a radio group in menus."""
        g = self.groups.setdefault(group, QActionGroup(self.host))
        g.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for name in names:
            g.addAction(self.actions[name])

    def fill_menu(self, menu: QMenu | QMenuBar, names: list[str | None]) -> None:
        """Add actions in order; None adds a separator."""
        for name in names:
            if name is None:
                menu.addSeparator()
            elif name in self.actions:
                menu.addAction(self.actions[name])

    def fill_toolbar(self, toolbar: QToolBar, names: list[str | None]) -> None:
        for name in names:
            if name is None:
                toolbar.addSeparator()
            elif name in self.actions:
                toolbar.addAction(self.actions[name])


class HoldKeyFilter(QObject):
    """Application event filter: the shortcut of a hold command drives press/release while
    ``window`` is the active window (auto-repeat ignored)."""

    def __init__(self, commands: CommandRegistry, window: QWidget, on_error: ErrorSink) -> None:
        super().__init__(window)
        self.commands = commands
        self.window = window
        self.on_error = on_error

    def _hold_command(self, event: QKeyEvent) -> str | None:
        combo = QKeySequence(event.keyCombination())
        for cmd in self.commands:
            if cmd.is_hold and cmd.shortcut and cmd.enabled:
                seq = QKeySequence(cmd.shortcut)
                if seq.count() == 1 and (
                    seq == combo
                    or (seq[0].key() == event.key() and self.commands.is_held(cmd.name))
                ):
                    return cmd.name
        return None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt name
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        if not self.window.isActiveWindow() or not isinstance(event, QKeyEvent):
            return False
        name = self._hold_command(event)
        if name is None:
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()
            return False
        if event.isAutoRepeat():
            return True
        from radvoice.errors import RadVoiceError

        try:
            if kind == QEvent.Type.KeyPress:
                self.commands.press(name)
            else:
                self.commands.release(name)
        except RadVoiceError as err:
            self.on_error(str(err))
        return True
