"""The viewer's commands (names, titles, default shortcuts) and where they appear in menus.

Voice commands, dictation microphones and other parts invoke these names through
``MainWindow.commands``; the audio engine reconnects ``talk.push`` with
``commands.set_callbacks("talk.push", press=..., release=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from radvoice.app.settings import MAX_RECENT
from radvoice.commands import Command, CommandRegistry
from radvoice.components.state import (
    RENDER_PRESET_TITLES,
    RENDER_PRESETS,
    WINDOW_PRESET_TITLES,
)

if TYPE_CHECKING:
    from radvoice.app.main_window import MainWindow

WINDOW_PRESET_KEYS = {"lung": "1", "mediastinum": "2", "bone": "3", "brain": "4", "header": "5"}
RENDER_PRESET_KEYS = {
    "ct-bone": "Alt+1",
    "ct-lung": "Alt+2",
    "soft-tissue": "Alt+3",
    "mip": "Alt+4",
}
WINDOW_PRESET_COMMANDS = [f"view.preset.{n}" for n in WINDOW_PRESET_KEYS]
RENDER_PRESET_COMMANDS = [f"render.preset.{n}" for n in RENDER_PRESETS]
RECENT_COMMANDS = [f"file.recent.{i}" for i in range(1, MAX_RECENT + 1)]

MENUS: dict[str, list[str | None]] = {
    "&File": [
        "file.open",
        "file.open_dicom",
        "pacs.browse",
        "@recent",
        None,
        "file.screenshot",
        "file.export_findings",
        "pacs.send_results",
        None,
        "file.quit",
    ],
    "&View": [
        *WINDOW_PRESET_COMMANDS,
        None,
        "view.slice.next",
        "view.slice.previous",
        "view.reset",
        "view.maximize",
        "view.crosshair",
        "view.patient_info",
    ],
    "&3D": RENDER_PRESET_COMMANDS,
    "&Talk": ["talk.push"],
    "&Help": ["help.shortcuts", "help.about"],
}
TOOLBAR: list[str | None] = [
    "file.open",
    "file.open_dicom",
    None,
    *WINDOW_PRESET_COMMANDS,
    None,
    *RENDER_PRESET_COMMANDS,
    None,
    "view.reset",
    "view.maximize",
    "view.crosshair",
    None,
    "file.screenshot",
]


def register_app_commands(win: MainWindow) -> CommandRegistry:
    """Register every viewer action on ``win.commands``."""
    reg = win.commands
    add = reg.register
    add(Command("file.open", "Open File…", win.choose_file, "Ctrl+O", category="File"))
    add(
        Command(
            "file.open_dicom",
            "Open DICOM Folder…",
            win.choose_folder,
            "Ctrl+Shift+O",
            category="File",
        )
    )
    for i, name in enumerate(RECENT_COMMANDS):
        add(
            Command(
                name,
                f"Recent {i + 1}",
                lambda i=i: win.open_recent(i),
                enabled=False,
                category="File",
            )
        )
    add(Command("file.recent.clear", "Clear Recent Files", win.clear_recent, category="File"))
    add(
        Command(
            "file.screenshot",
            "Save Screenshot…",
            win.choose_screenshot,
            "Ctrl+Shift+S",
            category="File",
        )
    )
    add(Command("file.quit", "Quit", win.close, "Ctrl+Q", category="File"))
    _register_pacs(win)

    for name, key in WINDOW_PRESET_KEYS.items():
        add(
            Command(
                f"view.preset.{name}",
                f"{WINDOW_PRESET_TITLES[name]} window",
                lambda name=name: win.viewer.apply_preset(name),
                key,
                category="Window/level",
                checkable=True,
            )
        )
    for name in RENDER_PRESETS:
        add(
            Command(
                f"render.preset.{name}",
                f"3D: {RENDER_PRESET_TITLES[name]}",
                lambda name=name: setattr(win.viewer, "render_preset", name),
                RENDER_PRESET_KEYS[name],
                category="3D",
                checkable=True,
            )
        )
    add(
        Command("view.slice.next", "Next Slice", lambda: win.step_slice(1), "PgUp", category="View")
    )
    add(
        Command(
            "view.slice.previous",
            "Previous Slice",
            lambda: win.step_slice(-1),
            "PgDown",
            category="View",
        )
    )
    add(Command("view.reset", "Reset Views", win.reset_views, "R", category="View"))
    add(
        Command(
            "view.maximize",
            "Maximise/Restore View",
            win.toggle_maximized,
            "M",
            category="View",
            checkable=True,
        )
    )
    add(
        Command(
            "view.crosshair",
            "Crosshair",
            lambda: setattr(win.viewer, "crosshair_visible", not win.viewer.crosshair_visible),
            "C",
            category="View",
            checkable=True,
            checked=True,
        )
    )
    add(
        Command(
            "view.patient_info",
            "Show Patient Info",
            lambda: setattr(win.viewer, "show_patient_info", not win.viewer.show_patient_info),
            category="View",
            checkable=True,
        )
    )
    add(
        Command(
            "talk.push",
            "Push to Talk",
            press=win.talk_unavailable,
            release=lambda: None,
            shortcut="Space",
            category="Talk",
            tooltip="Hold to ask a question about this CT",
        )
    )
    add(
        Command(
            "help.shortcuts", "Keyboard Shortcuts…", win.edit_shortcuts, "Ctrl+K", category="Help"
        )
    )
    add(Command("help.about", "About RadVoice", win.show_about, category="Help"))
    return reg


def _register_pacs(win: MainWindow) -> None:
    """PACS study browser, findings export and sending the results back."""
    from radvoice.app.pacs_actions import PacsActions

    win.pacs = PacsActions(win)
    add = win.commands.register
    add(Command("pacs.browse", "Open from PACS…", win.pacs.browse, "Ctrl+Shift+P", category="File"))
    add(
        Command(
            "file.export_findings",
            "Export Findings…",
            win.pacs.choose_export,
            "Ctrl+E",
            category="File",
            tooltip="DICOM SR (+ heat map) for a DICOM series, JSON and a PNG of the window",
        )
    )
    add(
        Command(
            "pacs.send_results",
            "Send Results to PACS",
            win.pacs.send_results,
            category="File",
            tooltip="Store the last exported SR and heat map on the study browser's node",
        )
    )
