"""Decode HID input reports of dictation microphones into button press/release events."""

from __future__ import annotations

from collections.abc import Sequence

from radvoice.devices.buttons import Button, ButtonEvent
from radvoice.devices.models import Protocol

SPEECHMIKE_BUTTON_REPORT = 0x80  # first byte of a SpeechMike button event
SPEECHMIKE_MOTION_REPORT = 0x9E  # picked up / laid down (ignored here)

POWERMIC3_BITS: dict[Button, int] = {
    Button.TRANSCRIBE: 1 << 0,
    Button.TAB_BACKWARD: 1 << 1,
    Button.RECORD: 1 << 2,
    Button.TAB_FORWARD: 1 << 3,
    Button.REWIND: 1 << 4,
    Button.FORWARD: 1 << 5,
    Button.PLAY: 1 << 6,
    Button.CUSTOM_LEFT: 1 << 7,
    Button.ENTER_SELECT: 1 << 8,
    Button.CUSTOM_RIGHT: 1 << 9,
}

SPEECHMIKE_BITS: dict[Button, int] = {
    Button.SCAN_END: 1 << 0,
    Button.F1: 1 << 1,
    Button.F2: 1 << 2,
    Button.F3: 1 << 3,
    Button.F4: 1 << 4,
    Button.COMMAND: 1 << 5,
    Button.SCAN_SUCCESS: 1 << 7,
    Button.RECORD: 1 << 8,
    Button.STOP: 1 << 9,
    Button.PLAY: 1 << 10,
    Button.FORWARD: 1 << 11,
    Button.REWIND: 1 << 12,
    Button.EOL_PRIO: 1 << 13,
    Button.INS_OVR: 1 << 14,
    Button.INSTR: 1 << 15,
}

POWERMIC4_BITS: dict[Button, int] = {
    Button.F1: 1 << 1,
    Button.F2: 1 << 2,
    Button.F3: 1 << 3,
    Button.F4: 1 << 4,
    Button.COMMAND: 1 << 5,
    Button.RECORD: 1 << 8,
    Button.PLAY: 1 << 10,
    Button.TAB_FORWARD: 1 << 11,
    Button.TAB_BACKWARD: 1 << 12,
    Button.REWIND: 1 << 13,
    Button.FORWARD: 1 << 14,
    Button.ENTER_SELECT: 1 << 15,
}

_BITS = {
    Protocol.POWERMIC3: POWERMIC3_BITS,
    Protocol.SPEECHMIKE: SPEECHMIKE_BITS,
    Protocol.POWERMIC4: POWERMIC4_BITS,
}


def button_mask(protocol: Protocol, report: Sequence[int]) -> int | None:
    """The 16-bit button field of a report, or None when the report is not a button report."""
    data = bytes(report)
    if protocol is Protocol.POWERMIC3:
        return int.from_bytes(data[1:3], "little") if len(data) >= 3 else None
    if len(data) >= 9 and data[0] == SPEECHMIKE_BUTTON_REPORT:
        return int.from_bytes(data[7:9], "little")
    return None


def decode_buttons(protocol: Protocol, report: Sequence[int]) -> frozenset[Button] | None:
    """Buttons held according to ``report`` (None for reports that carry no button state)."""
    mask = button_mask(protocol, report)
    if mask is None:
        return None
    return frozenset(b for b, bit in _BITS[protocol].items() if mask & bit)


class ButtonDecoder:
    """Turns the stream of reports of one device into press/release events (edges only)."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._held: frozenset[Button] = frozenset()

    @property
    def held(self) -> frozenset[Button]:
        return self._held

    def feed(self, report: Sequence[int]) -> list[ButtonEvent]:
        buttons = decode_buttons(self.protocol, report)
        if buttons is None:
            return []
        events = [ButtonEvent(b, False) for b in sorted(self._held - buttons)]
        events += [ButtonEvent(b, True) for b in sorted(buttons - self._held)]
        self._held = buttons
        return events

    def release_all(self) -> list[ButtonEvent]:
        """Events for a device that vanished: everything held is released."""
        events = [ButtonEvent(b, False) for b in sorted(self._held)]
        self._held = frozenset()
        return events
