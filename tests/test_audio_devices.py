"""Dictation microphones: decoding recorded HID button reports, and the poller thread."""

from __future__ import annotations

import threading
import time
from collections import deque

import pytest

from radvoice.devices import (
    Button,
    ButtonDecoder,
    ButtonEvent,
    CommandEvent,
    DictationMicPoller,
    Protocol,
    decode_buttons,
    find_model,
)
from radvoice.devices import poller as poller_module

# Reports as hidapi returns them (no report-id byte: these interfaces use report id 0).
PM3_IDLE = [0x00, 0x00, 0x00]
PM3_RECORD = [0x00, 0x04, 0x00]
PM3_RECORD_FORWARD = [0x00, 0x24, 0x00]
PM3_ENTER = [0x00, 0x00, 0x01]
PM3_CUSTOM_RIGHT = [0x00, 0x00, 0x02]
SM_IDLE = [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x00]
SM_RECORD = [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x01]
SM_F1_STOP = [0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x02]
SM_PLAY = [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x04]
SM_MOTION_LAID_DOWN = [0x9E, 0, 0, 0, 0, 0, 0, 0, 0x01]
SM_WIRELESS_STATUS = [0x94, 0, 0, 0, 0, 0x45, 0x01, 0, 0]


@pytest.mark.parametrize(
    "protocol,report,expected",
    [
        (Protocol.POWERMIC3, PM3_IDLE, set()),
        (Protocol.POWERMIC3, [0x00, 0x01, 0x00], {Button.TRANSCRIBE}),
        (Protocol.POWERMIC3, [0x00, 0x02, 0x00], {Button.TAB_BACKWARD}),
        (Protocol.POWERMIC3, PM3_RECORD, {Button.RECORD}),
        (Protocol.POWERMIC3, [0x00, 0x08, 0x00], {Button.TAB_FORWARD}),
        (Protocol.POWERMIC3, [0x00, 0x10, 0x00], {Button.REWIND}),
        (Protocol.POWERMIC3, [0x00, 0x20, 0x00], {Button.FORWARD}),
        (Protocol.POWERMIC3, [0x00, 0x40, 0x00], {Button.PLAY}),
        (Protocol.POWERMIC3, [0x00, 0x80, 0x00], {Button.CUSTOM_LEFT}),
        (Protocol.POWERMIC3, PM3_ENTER, {Button.ENTER_SELECT}),
        (Protocol.POWERMIC3, PM3_CUSTOM_RIGHT, {Button.CUSTOM_RIGHT}),
        (Protocol.POWERMIC3, [0x00, 0x00, 0x04], set()),  # undefined bit
        (Protocol.POWERMIC3, PM3_RECORD_FORWARD, {Button.RECORD, Button.FORWARD}),
        (Protocol.SPEECHMIKE, SM_RECORD, {Button.RECORD}),
        (Protocol.SPEECHMIKE, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x08], {Button.FORWARD}),
        (Protocol.SPEECHMIKE, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x10], {Button.REWIND}),
        (Protocol.SPEECHMIKE, [0x80, 0, 0, 0, 0, 0, 0, 0x20, 0x00], {Button.COMMAND}),
        (Protocol.SPEECHMIKE, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x80], {Button.INSTR}),
        (Protocol.SPEECHMIKE, SM_F1_STOP, {Button.F1, Button.STOP}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x01], {Button.RECORD}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x08], {Button.TAB_FORWARD}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x10], {Button.TAB_BACKWARD}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x20], {Button.REWIND}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x40], {Button.FORWARD}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x80], {Button.ENTER_SELECT}),
        (Protocol.POWERMIC4, [0x80, 0, 0, 0, 0, 0, 0, 0x01, 0x00], set()),
    ],
)
def test_decode_recorded_reports(protocol: Protocol, report: list[int], expected: set) -> None:
    assert decode_buttons(protocol, report) == expected


def test_non_button_reports_are_ignored() -> None:
    for report in (SM_MOTION_LAID_DOWN, SM_WIRELESS_STATUS, [0x80, 0, 0]):
        assert decode_buttons(Protocol.SPEECHMIKE, report) is None
    assert decode_buttons(Protocol.POWERMIC3, [0x00]) is None


def test_decoder_turns_reports_into_edges() -> None:
    dec = ButtonDecoder(Protocol.POWERMIC3)
    sequence = [PM3_RECORD, PM3_RECORD, PM3_RECORD_FORWARD, PM3_RECORD, PM3_IDLE]
    events = [e for report in sequence for e in dec.feed(report)]
    assert events == [
        ButtonEvent(Button.RECORD, True),
        ButtonEvent(Button.FORWARD, True),
        ButtonEvent(Button.FORWARD, False),
        ButtonEvent(Button.RECORD, False),
    ]
    # SpeechMike slider: a position stays held until the slider moves; other reports interleave
    sm = ButtonDecoder(Protocol.SPEECHMIKE)
    seq = [SM_PLAY, SM_MOTION_LAID_DOWN, SM_F1_STOP, SM_IDLE]
    events = [e for report in seq for e in sm.feed(report)]
    assert events == [
        ButtonEvent(Button.PLAY, True),
        ButtonEvent(Button.PLAY, False),
        ButtonEvent(Button.F1, True),
        ButtonEvent(Button.STOP, True),
        ButtonEvent(Button.F1, False),
        ButtonEvent(Button.STOP, False),
    ]


def test_model_table() -> None:
    assert find_model(0x0554, 0x1001).protocol is Protocol.POWERMIC3
    assert find_model(0x0554, 0x0064, 0xFFA0).protocol is Protocol.POWERMIC4
    assert find_model(0x0911, 0x0C1C, 0xFFA0).protocol is Protocol.SPEECHMIKE
    assert find_model(0x0911, 0x0C1C, 0x0001) is None  # the keyboard interface, not buttons
    assert find_model(0x046D, 0xC077) is None  # a mouse


# ----------------------------------------------------------------- poller with a fake hidapi
class FakeHandle:
    def __init__(self, reports: list) -> None:
        self.reports = deque(reports)
        self.closed = False

    def open_path(self, path: bytes) -> None:
        self.path = path

    def set_nonblocking(self, flag: int) -> None:
        self.nonblocking = flag

    def read(self, size: int) -> list[int]:
        if not self.reports:
            return []
        item = self.reports.popleft()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closed = True


class FakeHid:
    def __init__(self, infos: list[dict], handles: list[FakeHandle]) -> None:
        self.infos = infos
        self.handles = deque(handles)

    def enumerate(self) -> list[dict]:
        return list(self.infos)

    def device(self) -> FakeHandle:
        return self.handles.popleft()


def _wait(cond, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_poller_maps_record_to_talk_push_and_releases_on_unplug() -> None:
    handle = FakeHandle([PM3_RECORD, PM3_RECORD, [0x00, 0x24, 0x00], OSError("read error")])
    info = {"path": b"/dev/hidraw7", "vendor_id": 0x0554, "product_id": 0x1001, "usage_page": 1}
    fake = FakeHid([info], [handle])
    events: list[CommandEvent] = []
    poller = DictationMicPoller(events.append, hid_module=fake, scan_interval_s=0.05)
    assert poller.start()
    try:
        _wait(lambda: handle.closed)
        fake.infos = []  # unplugged
        time.sleep(0.1)
    finally:
        poller.stop()
    assert [(e.command, e.pressed) for e in events] == [
        ("talk.push", True),
        ("view.slice.next", True),
        ("view.slice.next", False),  # the device vanished with buttons held
        ("talk.push", False),
    ]
    assert events[0].device == "Nuance PowerMic II/III"
    assert poller.device_names == []


def test_poller_survives_open_failure_and_handler_errors() -> None:
    class Denied(FakeHandle):
        def open_path(self, path: bytes) -> None:
            raise OSError("open failed")

    good = FakeHandle([SM_RECORD, SM_IDLE])
    info = {"path": b"p", "vendor_id": 0x0911, "product_id": 0x0C1C, "usage_page": 0xFFA0}
    fake = FakeHid([info], [Denied([]), good])
    calls: list[CommandEvent] = []

    def handler(event: CommandEvent) -> None:
        calls.append(event)
        raise RuntimeError("consumer bug")

    poller = DictationMicPoller(handler, hid_module=fake, scan_interval_s=0.05)
    poller.start()
    try:
        time.sleep(0.1)
        assert calls == []  # open failed once: remembered, not retried while present
        fake.infos = []
        time.sleep(0.1)
        fake.infos = [info]  # plugged in again (udev fixed): retried
        _wait(lambda: len(calls) >= 2)
    finally:
        poller.stop()
    assert [(c.command, c.pressed) for c in calls] == [("talk.push", True), ("talk.push", False)]


def test_no_hidapi_or_no_device_is_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poller_module, "load_hid", lambda: None)
    assert DictationMicPoller(lambda e: None).start() is False
    monkeypatch.undo()
    threads = threading.active_count()
    real = DictationMicPoller(lambda e: None, scan_interval_s=0.05)  # the installed hidapi
    started = real.start()
    time.sleep(0.15)
    real.stop()
    assert real.device_names == [] or started
    assert threading.active_count() == threads
