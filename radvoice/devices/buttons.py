"""Dictation microphone buttons and the commands they invoke by default."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Button(StrEnum):
    RECORD = "record"
    PLAY = "play"
    STOP = "stop"
    FORWARD = "forward"
    REWIND = "rewind"
    TAB_FORWARD = "tab_forward"
    TAB_BACKWARD = "tab_backward"
    TRANSCRIBE = "transcribe"
    ENTER_SELECT = "enter_select"
    CUSTOM_LEFT = "custom_left"
    CUSTOM_RIGHT = "custom_right"
    COMMAND = "command"
    INS_OVR = "ins_ovr"
    INSTR = "instr"
    EOL_PRIO = "eol_prio"
    F1 = "f1"
    F2 = "f2"
    F3 = "f3"
    F4 = "f4"
    SCAN_END = "scan_end"
    SCAN_SUCCESS = "scan_success"


@dataclass(frozen=True)
class ButtonEvent:
    button: Button
    pressed: bool  # False: released


# Command names of the registry (radvoice.commands). The record button is push-to-talk;
# buttons not listed do nothing unless the user maps them.
DEFAULT_COMMANDS: dict[Button, str] = {
    Button.RECORD: "talk.push",
    Button.FORWARD: "view.slice.next",
    Button.TAB_FORWARD: "view.slice.next",
    Button.REWIND: "view.slice.previous",
    Button.TAB_BACKWARD: "view.slice.previous",
    Button.ENTER_SELECT: "view.reset",
}
