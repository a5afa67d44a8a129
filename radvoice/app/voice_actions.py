"""Qt-free voice actions: run a spoken command by name, remember how to undo it.

The assistant engine hears "lung window" and calls the app's command handler with
``("view.preset.lung", 0.93)``. :meth:`VoiceActions.handle` checks the settings (on/off and a
confidence threshold), takes an undo snapshot from every registered provider (the viewer
state, the heat map's visibility, the cameras, ...), invokes the command through the one
:class:`~radvoice.commands.CommandRegistry` and records the action; the confirmation reads
"Lung window ← voice, 0.93". "Scratch that" (``voice.undo``) restores the last snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from radvoice.app.events import EmitterGroup
from radvoice.app.state import HEADER_PRESET, ViewerState, _State
from radvoice.assistant.intent import DEFAULT_COMMAND_THRESHOLD
from radvoice.commands import CommandRegistry
from radvoice.errors import RadVoiceError

UNDO_COMMAND = "voice.undo"
HELP_COMMAND = "voice.help"
# commands whose effect is not the viewer's state: run, confirmed, never "undone"
NOT_UNDOABLE = frozenset({UNDO_COMMAND, HELP_COMMAND, "file.screenshot", "file.export_findings"})
MAX_HISTORY = 20


@dataclass
class VoiceSettings:
    """User settings: voice commands on/off, the confidence they need, the ASR transcript."""

    enabled: bool = True
    threshold: float = DEFAULT_COMMAND_THRESHOLD  # the command head's probability
    transcript: bool = True

    def __post_init__(self) -> None:
        self.threshold = min(max(float(self.threshold), 0.0), 1.0)


class Outcome(StrEnum):
    DONE = "done"
    UNDONE = "undone"
    NOTHING_TO_UNDO = "nothing_to_undo"
    OFF = "off"
    UNSURE = "unsure"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"


@dataclass(frozen=True)
class VoiceAction:
    """One executed voice command and the snapshot taken just before it."""

    name: str
    title: str
    confidence: float
    snapshot: dict[str, Any] = field(repr=False, compare=False)
    undoable: bool = True
    at: float = field(default_factory=time.time, compare=False)

    @property
    def confirmation(self) -> str:
        return confirmation_text(self.title, self.confidence)


@dataclass(frozen=True)
class VoiceResult:
    """What :meth:`VoiceActions.handle` did, and the line to show."""

    outcome: Outcome
    message: str
    action: VoiceAction | None = None


def confirmation_text(title: str, confidence: float) -> str:
    """``"Lung window ← voice, 0.93"``."""
    return f"{title} ← voice, {confidence:.2f}"


Provider = tuple[Callable[[], Any], Callable[[Any], None]]
TitleLookup = Callable[[str], str | None]


class VoiceActions(_State):
    """The voice-action history with undo snapshots; events ``last`` and ``message``."""

    def __init__(
        self,
        commands: CommandRegistry,
        settings: VoiceSettings | None = None,
        titles: TitleLookup | None = None,
    ) -> None:
        self.events = EmitterGroup("last", "message")
        self.commands = commands
        self.settings = settings or VoiceSettings()
        self._titles = titles
        self._providers: dict[str, Provider] = {}
        self._history: list[VoiceAction] = []
        self._last: VoiceAction | None = None
        self._message = ""

    # -- setup ----------------------------------------------------------------------------------
    def add_provider(self, name: str, get: Callable[[], Any], restore: Callable[[Any], None]):
        """Something whose state a voice action may change: ``get()`` before, ``restore(s)``
        on undo (providers restore in the order they were added)."""
        self._providers[name] = (get, restore)

    # -- state ----------------------------------------------------------------------------------
    @property
    def last(self) -> VoiceAction | None:
        """The last executed voice action (the confirmation shows it), or None."""
        return self._last

    @property
    def message(self) -> str:
        return self._message

    @property
    def history(self) -> tuple[VoiceAction, ...]:
        return tuple(self._history)

    @property
    def can_undo(self) -> bool:
        return any(a.undoable for a in self._history)

    def title_of(self, name: str) -> str:
        title = self._titles(name) if self._titles is not None else None
        if title:
            return title
        if name in self.commands:
            return self.commands.get(name).title.replace("&", "").rstrip("…")
        return name

    # -- actions --------------------------------------------------------------------------------
    def handle(self, name: str, confidence: float) -> VoiceResult:
        """Run the spoken command ``name`` heard with ``confidence`` (GUI thread)."""
        title = self.title_of(name)
        if not self.settings.enabled:
            return self._result(Outcome.OFF, f"Voice commands are off (heard “{title}”)")
        if confidence < self.settings.threshold:
            return self._result(
                Outcome.UNSURE,
                f"Not sure you said “{title}” ({confidence:.2f} < {self.settings.threshold:.2f})",
            )
        if name == UNDO_COMMAND:
            return self.undo()
        if name not in self.commands:
            return self._result(Outcome.UNAVAILABLE, f"{title} is not available")
        undoable = name not in NOT_UNDOABLE
        snapshot = self.snapshot() if undoable else {}
        try:
            self.commands.invoke(name)
        except RadVoiceError as err:
            return self._result(Outcome.FAILED, f"{title}: {str(err).splitlines()[0]}")
        action = VoiceAction(name, title, float(confidence), snapshot, undoable)
        if undoable:
            self._history = [*self._history, action][-MAX_HISTORY:]
        self._set("last", action)
        return self._result(Outcome.DONE, action.confirmation, action)

    def snapshot(self) -> dict[str, Any]:
        return {key: get() for key, (get, _restore) in self._providers.items()}

    def undo(self) -> VoiceResult:
        """Restore the state before the last undoable voice action ("scratch that")."""
        while self._history and not self._history[-1].undoable:
            self._history.pop()
        if not self._history:
            return self._result(Outcome.NOTHING_TO_UNDO, "Nothing to undo")
        action = self._history.pop()
        for key, (_get, restore) in self._providers.items():
            if key in action.snapshot:
                restore(action.snapshot[key])
        self._set("last", None)
        return self._result(Outcome.UNDONE, f"Undone: {action.title}", action)

    def _result(self, outcome: Outcome, message: str, action: VoiceAction | None = None):
        self._message = message
        self.events.emit("message", message)  # again, even when equal: a new confirmation
        return VoiceResult(outcome, message, action)


# -- the viewer's snapshot ----------------------------------------------------------------------
@dataclass(frozen=True)
class ViewerSnapshot:
    """Everything of a :class:`ViewerState` a voice command can change (not the volume)."""

    window: tuple[float, float]
    preset: str | None
    cursor: tuple[int, int, int]
    render_preset: str
    crosshair_visible: bool
    maximized: str | None
    active_view: str
    show_patient_info: bool


def viewer_snapshot(viewer: ViewerState) -> ViewerSnapshot:
    return ViewerSnapshot(
        viewer.window,
        viewer.preset,
        viewer.cursor,
        viewer.render_preset,
        viewer.crosshair_visible,
        viewer.maximized,
        viewer.active_view,
        viewer.show_patient_info,
    )


def restore_viewer(viewer: ViewerState, snap: ViewerSnapshot) -> None:
    """Put the viewer back as it was (the window's preset name is restored too)."""
    if snap.preset is not None and snap.preset != HEADER_PRESET:
        viewer.apply_preset(snap.preset)
    else:
        viewer.window = snap.window
        if snap.preset == HEADER_PRESET:
            viewer.apply_preset(HEADER_PRESET)
    viewer.cursor = snap.cursor
    viewer.render_preset = snap.render_preset
    viewer.crosshair_visible = snap.crosshair_visible
    viewer.maximized = snap.maximized
    viewer.active_view = snap.active_view
    viewer.show_patient_info = snap.show_patient_info
