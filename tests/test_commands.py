"""Command registry (headless, no Qt)."""

from __future__ import annotations

import pytest

from radvoice.commands import (
    Command,
    CommandDisabledError,
    CommandRegistry,
    ShortcutConflictError,
    UnknownCommandError,
    normalize_shortcut,
)
from radvoice.errors import RadVoiceError


@pytest.fixture
def reg() -> CommandRegistry:
    r = CommandRegistry()
    r.calls = []  # type: ignore[attr-defined]
    r.add("view.preset.lung", "Lung", lambda: r.calls.append("lung"), shortcut="1", category="W/L")
    r.add("view.preset.bone", "Bone", lambda: r.calls.append("bone"), shortcut="3", category="W/L")
    r.add("file.open", "Open", lambda: "opened", shortcut="ctrl+o", category="File")
    r.register(
        Command(
            "talk.push",
            "Push to talk",
            press=lambda: r.calls.append("press"),
            release=lambda: r.calls.append("release"),
            shortcut="Space",
            category="Talk",
        )
    )
    return r


def test_invoke_by_name_runs_callback_and_returns_value(reg):
    reg.invoke("view.preset.bone")
    assert reg.calls == ["bone"]
    assert reg.invoke("file.open") == "opened"


def test_unknown_and_disabled_commands_are_user_errors(reg):
    with pytest.raises(UnknownCommandError):
        reg.invoke("nope")
    reg.set_enabled("view.preset.lung", False)
    with pytest.raises(CommandDisabledError) as info:
        reg.invoke("view.preset.lung")
    assert isinstance(info.value, RadVoiceError)
    assert reg.calls == []
    reg.set_enabled("view.preset.lung", True)
    reg.invoke("view.preset.lung")
    assert reg.calls == ["lung"]


def test_duplicate_names_and_bad_commands_are_refused(reg):
    with pytest.raises(ValueError):
        reg.add("file.open", "Again", lambda: None)
    with pytest.raises(ValueError):
        Command("has space", "x", lambda: None)
    with pytest.raises(ValueError):
        Command("no.callback", "x")


def test_hold_command_press_release_semantics(reg):
    reg.press("talk.push")
    reg.press("talk.push")  # key auto-repeat / second device: ignored while held
    assert reg.is_held("talk.push")
    reg.release("talk.push")
    reg.release("talk.push")  # release without press: nothing
    assert reg.calls == ["press", "release"]
    reg.invoke("talk.push")  # plain invoke of a hold command = press + release
    assert reg.calls == ["press", "release", "press", "release"]


def test_disabling_a_held_command_forgets_the_hold(reg):
    reg.press("talk.push")
    reg.set_enabled("talk.push", False)
    assert not reg.is_held("talk.push")
    assert reg.release("talk.push") is None
    assert reg.calls == ["press"]


def test_set_callbacks_reconnects_behaviour(reg):
    got = []
    reg.set_callbacks("talk.push", press=lambda: got.append("p"), release=lambda: got.append("r"))
    reg.press("talk.push")
    reg.release("talk.push")
    assert got == ["p", "r"]
    assert reg.calls == []


def test_shortcuts_normalised_and_conflicts_detected(reg):
    assert reg.get("file.open").shortcut == "Ctrl+O"
    assert reg.owner_of(" ctrl + O ") == "file.open"
    with pytest.raises(ShortcutConflictError, match="Lung"):
        reg.set_shortcut("view.preset.bone", "1")
    reg.set_shortcut("view.preset.bone", "1", steal=True)
    assert reg.get("view.preset.lung").shortcut is None
    assert reg.owner_of("1") == "view.preset.bone"


def test_overrides_round_trip_and_reset(reg):
    reg.set_shortcut("view.preset.lung", "F2")
    reg.set_shortcut("file.open", None)
    overrides = reg.shortcut_overrides()
    assert overrides == {"view.preset.lung": "F2", "file.open": ""}

    fresh = CommandRegistry()
    fresh.add("view.preset.lung", "Lung", lambda: None, shortcut="1")
    fresh.add("file.open", "Open", lambda: None, shortcut="Ctrl+O")
    problems = fresh.apply_shortcut_overrides({**overrides, "gone.command": "X"})
    assert fresh.get("view.preset.lung").shortcut == "F2"
    assert fresh.get("file.open").shortcut is None
    assert problems == ["unknown command 'gone.command'"]

    reg.reset_shortcuts()
    assert reg.get("view.preset.lung").shortcut == "1"
    assert reg.get("file.open").shortcut == "Ctrl+O"
    assert reg.shortcut_overrides() == {}


def test_listeners_hear_registration_and_changes(reg):
    seen = []
    unsubscribe = reg.subscribe(lambda kind, cmd: seen.append((kind, cmd.name)))
    reg.add("view.reset", "Reset", lambda: None)
    reg.set_checked("view.reset", True)
    reg.set_checked("view.reset", True)  # unchanged: no event
    reg.unregister("view.reset")
    unsubscribe()
    reg.add("view.other", "Other", lambda: None)
    assert seen == [
        ("registered", "view.reset"),
        ("changed", "view.reset"),
        ("removed", "view.reset"),
    ]


def test_list_and_categories_keep_registration_order(reg):
    assert [c.name for c in reg.list("W/L")] == ["view.preset.lung", "view.preset.bone"]
    assert reg.categories() == ["W/L", "File", "Talk"]
    assert len(reg) == 4 and "talk.push" in reg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" ctrl + o ", "Ctrl+O"),
        ("shift+space", "Shift+Space"),
        ("Ctrl++", "Ctrl++"),
        ("f11", "F11"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_shortcut(text, expected):
    assert normalize_shortcut(text) == expected
