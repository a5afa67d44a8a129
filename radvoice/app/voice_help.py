"""What can I say: the spoken commands and example questions (no Qt).

Phrasings come from the assistant's catalogue (``radvoice.assistant.voice_commands``) when
this build has it; the titles and keys from the command registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from radvoice.commands import CommandRegistry
from radvoice.labels import PATHOLOGIES

# the catalogue's names in the order the help lists them (docs: VOICE_COMMANDS)
VOICE_COMMAND_NAMES: tuple[str, ...] = (
    "view.preset.lung",
    "view.preset.mediastinum",
    "view.preset.bone",
    "view.preset.brain",
    "view.preset.header",
    "render.preset.ct-bone",
    "render.preset.ct-lung",
    "render.preset.soft-tissue",
    "render.preset.mip",
    "view.slice.next",
    "view.slice.previous",
    "view.slice.first",
    "view.slice.last",
    "view.maximize.axial",
    "view.maximize.coronal",
    "view.maximize.sagittal",
    "view.maximize",
    "view.restore",
    "view.zoom.in",
    "view.zoom.out",
    "view.reset",
    "view.crosshair",
    "heatmap.toggle",
    "heatmap.jump",
    "priors.show",
    "priors.compare",
    "file.screenshot",
    "file.export_findings",
    "voice.undo",
    "voice.help",
)


@dataclass(frozen=True)
class HelpEntry:
    name: str
    title: str
    phrases: tuple[str, ...]
    shortcut: str | None
    available: bool


def catalogue() -> dict:
    """The assistant's voice-command catalogue (name → spec), or {} in a build without it."""
    try:
        from radvoice.assistant.voice_commands import VOICE_COMMANDS
    except ImportError:
        return {}
    return dict(VOICE_COMMANDS)


def spec_title(name: str) -> str | None:
    spec = catalogue().get(name)
    return getattr(spec, "title", None) if spec is not None else None


def command_entries(commands: CommandRegistry) -> list[HelpEntry]:
    """One entry per spoken command: title, example phrasings, key, available right now."""
    specs = catalogue()
    names = list(VOICE_COMMAND_NAMES) + [n for n in specs if n not in VOICE_COMMAND_NAMES]
    out = []
    for name in names:
        spec = specs.get(name)
        cmd = commands.get(name) if name in commands else None
        title = getattr(spec, "title", None) or (cmd.title.replace("&", "") if cmd else name)
        phrases = tuple(_phrases(spec))
        available = cmd is not None and cmd.enabled
        out.append(HelpEntry(name, title, phrases, cmd.shortcut if cmd else None, available))
    return out


def _phrases(spec) -> list[str]:
    for attr in ("examples", "phrases", "phrasings"):
        values = getattr(spec, attr, None)
        if values:
            return [str(v) for v in values]
    return []


def example_questions() -> list[str]:
    """A question for each of the 18 CT-RATE findings, as the assistant understands them."""
    return [f"Is there {label.lower()}?" for label in PATHOLOGIES]


def help_html(commands: CommandRegistry) -> str:
    """The panel's text: commands (phrases, key) and example questions."""
    rows = []
    for e in command_entries(commands):
        said = ", ".join(f"“{p}”" for p in e.phrases[:3]) or "—"
        key = f"<kbd>{e.shortcut}</kbd>" if e.shortcut else ""
        style = "" if e.available else ' style="color:#888"'
        rows.append(f"<tr{style}><td><b>{e.title}</b></td><td>{said}</td><td>{key}</td></tr>")
    questions = "".join(f"<li>{q}</li>" for q in example_questions())
    return (
        "<h3>Commands</h3><p>Hold the talk key and say one; a confirmation with an Undo button "
        "appears, and “scratch that” undoes the last one.</p>"
        f"<table cellspacing='6'><tr><th align='left'>command</th><th align='left'>say</th>"
        f"<th align='left'>key</th></tr>{''.join(rows)}</table>"
        "<h3>Questions</h3><p>Ask about any of the 18 findings; the answer comes first, the heat "
        "map shows where the model looks (“jump to finding” moves the crosshair there).</p>"
        f"<ul>{questions}</ul>"
    )
