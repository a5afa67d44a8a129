"""The command registry: every user action (menu, toolbar, hotkey, voice, dictation mic) by name.

No Qt here. The GUI binds each :class:`Command` to a ``QAction``; other parts (push-to-talk,
voice commands, HID dictation microphones) invoke commands by name. Hold commands such as
``talk.push`` have ``press``/``release`` callbacks instead of (or besides) a plain ``callback``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from radvoice.errors import RadVoiceError

Callback = Callable[[], object]
Listener = Callable[[str, "Command"], None]


class UnknownCommandError(RadVoiceError):
    """No command is registered under that name."""


class CommandDisabledError(RadVoiceError):
    """The command exists but is disabled right now (e.g. no volume loaded)."""


class ShortcutConflictError(RadVoiceError):
    """Another command already uses that shortcut."""


@dataclass
class Command:
    """One user action. ``shortcut`` is a Qt-style key sequence text such as ``"Ctrl+O"``."""

    name: str
    title: str
    callback: Callback | None = None
    shortcut: str | None = None
    press: Callback | None = None
    release: Callback | None = None
    enabled: bool = True
    category: str = "General"
    checkable: bool = False
    checked: bool = False
    tooltip: str = ""
    default_shortcut: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.name or " " in self.name:
            raise ValueError(f"command names are dotted words without spaces, got {self.name!r}")
        if self.callback is None and self.press is None:
            raise ValueError(f"command {self.name!r} needs a callback or a press callback")
        self.shortcut = normalize_shortcut(self.shortcut)
        self.default_shortcut = self.shortcut

    @property
    def is_hold(self) -> bool:
        """True for press-and-hold commands (push-to-talk)."""
        return self.press is not None


def normalize_shortcut(text: str | None) -> str | None:
    """Canonical spelling of a shortcut text (``" ctrl + o "`` -> ``"Ctrl+O"``); '' -> None.

    Modifiers are capitalised (Ctrl, Shift, Alt, Meta), single-character keys upper-cased,
    longer key names keep their spelling with a capital first letter (``PgDown``, ``F11``).
    """
    if text is None:
        return None
    s = text.replace(" ", "")
    if not s:
        return None
    plus_key = s == "+" or s.endswith("++")
    body = "" if s == "+" else (s[:-2] if s.endswith("++") else s)
    parts = [p for p in body.split("+") if p]
    if plus_key:
        parts.append("+")
    out = []
    for p in parts:
        low = p.lower()
        out.append(_MODIFIERS.get(low, p.upper() if len(p) == 1 else p[:1].upper() + p[1:]))
    return "+".join(out) or None


_MODIFIERS = {"ctrl": "Ctrl", "control": "Ctrl", "shift": "Shift", "alt": "Alt", "meta": "Meta"}


class CommandRegistry:
    """Commands by name, with user-overridable shortcuts and change notifications."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._listeners: list[Listener] = []
        self._held: set[str] = set()

    # -- registration -------------------------------------------------------------------------
    def register(self, command: Command, *, replace: bool = False) -> Command:
        """Add a command. A second command with the same name is an error unless ``replace``."""
        if command.name in self._commands and not replace:
            raise ValueError(f"command {command.name!r} is already registered")
        if command.shortcut and self.owner_of(command.shortcut) not in (None, command.name):
            command.shortcut = None  # first registration keeps a contested default
        self._commands[command.name] = command
        self._notify("registered", command)
        return command

    def add(self, name: str, title: str, callback: Callback | None = None, **kw) -> Command:
        """Shorthand for ``register(Command(name, title, callback, **kw))``."""
        return self.register(Command(name, title, callback, **kw))

    def set_callbacks(
        self,
        name: str,
        callback: Callback | None = None,
        *,
        press: Callback | None = None,
        release: Callback | None = None,
    ) -> None:
        """Connect (or reconnect) the behaviour of an existing command, e.g. the audio engine."""
        cmd = self.get(name)
        if callback is not None:
            cmd.callback = callback
        if press is not None:
            cmd.press = press
        if release is not None:
            cmd.release = release
        self._notify("changed", cmd)

    def unregister(self, name: str) -> None:
        cmd = self._commands.pop(name, None)
        if cmd is not None:
            self._held.discard(name)
            self._notify("removed", cmd)

    # -- lookup ---------------------------------------------------------------------------------
    def get(self, name: str) -> Command:
        try:
            return self._commands[name]
        except KeyError:
            raise UnknownCommandError(f"unknown command {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._commands

    def __iter__(self) -> Iterator[Command]:
        return iter(list(self._commands.values()))

    def __len__(self) -> int:
        return len(self._commands)

    def list(self, category: str | None = None) -> list[Command]:
        """Commands in registration order, optionally of one category."""
        return [c for c in self._commands.values() if category is None or c.category == category]

    def categories(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self._commands.values():
            seen.setdefault(c.category, None)
        return list(seen)

    def owner_of(self, shortcut: str | None) -> str | None:
        """Name of the command bound to ``shortcut``, if any."""
        key = normalize_shortcut(shortcut)
        if key is None:
            return None
        for c in self._commands.values():
            if c.shortcut == key:
                return c.name
        return None

    # -- invocation -----------------------------------------------------------------------------
    def invoke(self, name: str) -> object:
        """Run a command. A hold command invoked plainly does press then release."""
        cmd = self._enabled(name)
        if cmd.callback is not None:
            return cmd.callback()
        self.press(name)
        return self.release(name)

    def press(self, name: str) -> object:
        """Start a hold command (key or button down). Repeated presses while held are ignored."""
        cmd = self._enabled(name)
        if cmd.press is None:
            return self.invoke(name)
        if name in self._held:
            return None
        self._held.add(name)
        return cmd.press()

    def release(self, name: str) -> object:
        """End a hold command. Releasing a command that is not held does nothing."""
        cmd = self.get(name)
        if name not in self._held:
            return None
        self._held.discard(name)
        return cmd.release() if cmd.release is not None else None

    def is_held(self, name: str) -> bool:
        return name in self._held

    def _enabled(self, name: str) -> Command:
        cmd = self.get(name)
        if not cmd.enabled:
            raise CommandDisabledError(f"{cmd.title} is not available right now")
        return cmd

    # -- state ----------------------------------------------------------------------------------
    def set_enabled(self, name: str, enabled: bool) -> None:
        cmd = self.get(name)
        if cmd.enabled != enabled:
            cmd.enabled = enabled
            if not enabled:
                self._held.discard(name)
            self._notify("changed", cmd)

    def set_checked(self, name: str, checked: bool) -> None:
        cmd = self.get(name)
        if cmd.checked != checked:
            cmd.checked = checked
            self._notify("changed", cmd)

    # -- shortcuts ------------------------------------------------------------------------------
    def set_shortcut(self, name: str, shortcut: str | None, *, steal: bool = False) -> None:
        """Bind a new shortcut (None clears it). A shortcut in use elsewhere is an error unless
        ``steal``, which clears it from the other command."""
        cmd = self.get(name)
        key = normalize_shortcut(shortcut)
        owner = self.owner_of(key)
        if owner is not None and owner != name:
            if not steal:
                other = self._commands[owner].title
                raise ShortcutConflictError(f"{key} is already used by {other!r}")
            self._commands[owner].shortcut = None
            self._notify("changed", self._commands[owner])
        if cmd.shortcut != key:
            cmd.shortcut = key
            self._notify("changed", cmd)

    def reset_shortcuts(self) -> None:
        """Every command back to its default shortcut."""
        for cmd in self._commands.values():
            cmd.shortcut = None
        for cmd in self._commands.values():
            if cmd.default_shortcut and self.owner_of(cmd.default_shortcut) is None:
                cmd.shortcut = cmd.default_shortcut
            self._notify("changed", cmd)

    def shortcut_overrides(self) -> dict[str, str]:
        """Shortcuts that differ from the defaults, ``{name: shortcut or ""}`` (for settings)."""
        return {
            c.name: c.shortcut or ""
            for c in self._commands.values()
            if c.shortcut != c.default_shortcut
        }

    def apply_shortcut_overrides(self, overrides: dict[str, str]) -> list[str]:
        """Apply saved overrides; unknown names and conflicts are skipped and reported."""
        problems: list[str] = []
        for name, key in overrides.items():
            if name not in self._commands:
                problems.append(f"unknown command {name!r}")
                continue
            try:
                self.set_shortcut(name, key or None)
            except ShortcutConflictError as err:
                problems.append(str(err))
        return problems

    # -- listeners ------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """``listener(kind, command)`` on 'registered', 'changed', 'removed'. Returns unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, kind: str, command: Command) -> None:
        for listener in list(self._listeners):
            listener(kind, command)
