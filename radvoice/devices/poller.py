"""A background thread that reads dictation microphone buttons over USB HID (``hidapi``).

Where the ``hid`` module, its native library or a supported device is missing, the poller does
nothing (one log line) and costs nothing but an enumeration every few seconds. A device that is
unplugged while a button is held gets a release event for it, so push-to-talk never sticks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from radvoice.devices.buttons import DEFAULT_COMMANDS, Button, ButtonEvent
from radvoice.devices.models import DeviceModel, find_model
from radvoice.devices.reports import ButtonDecoder

log = logging.getLogger(__name__)

REPORT_SIZE = 64


@dataclass(frozen=True)
class CommandEvent:
    """A mapped button edge: ``command`` pressed (True) or released (False)."""

    command: str
    pressed: bool
    button: Button
    device: str


def load_hid() -> ModuleType | None:
    """The ``hid`` module of the hidapi package, or None (with the reason logged)."""
    try:
        import hid
    except (ImportError, OSError) as err:
        log.info("dictation microphones disabled: hidapi unavailable (%s)", err)
        return None
    return hid


@dataclass
class _Open:
    model: DeviceModel
    handle: Any
    decoder: ButtonDecoder


class DictationMicPoller:
    """Reads buttons of every supported device; ``on_event`` runs on the poller thread."""

    def __init__(
        self,
        on_event: Callable[[CommandEvent], None],
        commands: dict[Button, str] | None = None,
        scan_interval_s: float = 2.0,
        poll_interval_s: float = 0.01,
        hid_module: ModuleType | Any | None = None,
    ) -> None:
        self.on_event = on_event
        self.commands = dict(DEFAULT_COMMANDS if commands is None else commands)
        self.scan_interval_s = scan_interval_s
        self.poll_interval_s = poll_interval_s
        self._hid = hid_module
        self._open: dict[bytes, _Open] = {}
        self._failed: set[bytes] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def device_names(self) -> list[str]:
        return [o.model.name for o in list(self._open.values())]

    def start(self) -> bool:
        """Start polling; False (and nothing started) when hidapi is unavailable."""
        if self._thread is not None:
            return True
        if self._hid is None:
            self._hid = load_hid()
            if self._hid is None:
                return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="radvoice-hid", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 2.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        self._thread = None

    # ---------------------------------------------------------------- thread
    def _run(self) -> None:
        next_scan = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_scan:
                    self._scan()
                    next_scan = now + self.scan_interval_s
                if self._open:
                    for path in list(self._open):
                        self._read(path)
                    self._stop.wait(self.poll_interval_s)
                else:
                    self._stop.wait(max(0.0, next_scan - time.monotonic()))
        finally:
            for path in list(self._open):
                self._close(path, notify=True)

    def _scan(self) -> None:
        try:
            infos = self._hid.enumerate()
        except Exception as err:  # noqa: BLE001 - a broken HID stack must not stop the app
            log.debug("HID enumeration failed: %s", err)
            return
        present = set()
        for info in infos:
            path = info.get("path")
            model = find_model(
                int(info.get("vendor_id", 0)),
                int(info.get("product_id", 0)),
                info.get("usage_page"),
            )
            if model is None or path is None:
                continue
            present.add(path)
            if path in self._open or path in self._failed:
                continue
            try:
                handle = self._hid.device()
                handle.open_path(path)
                handle.set_nonblocking(1)
            except Exception as err:  # noqa: BLE001 - permissions (udev), busy device
                self._failed.add(path)
                log.warning("cannot open %s (check udev permissions): %s", model.name, err)
                continue
            self._open[path] = _Open(model, handle, ButtonDecoder(model.protocol))
            log.info("dictation microphone connected: %s", model.name)
        self._failed &= present  # a device that comes back is tried again

    def _read(self, path: bytes) -> None:
        dev = self._open[path]
        try:
            while True:
                report = dev.handle.read(REPORT_SIZE)
                if not report:
                    return
                self._dispatch(dev, dev.decoder.feed(report))
        except Exception as err:  # noqa: BLE001 - unplugged: hidapi raises OSError/IOError
            log.info("dictation microphone disconnected: %s (%s)", dev.model.name, err)
            self._close(path, notify=True)

    def _close(self, path: bytes, notify: bool) -> None:
        dev = self._open.pop(path, None)
        if dev is None:
            return
        if notify:
            self._dispatch(dev, dev.decoder.release_all())
        with contextlib.suppress(Exception):
            dev.handle.close()

    def _dispatch(self, dev: _Open, events: list[ButtonEvent]) -> None:
        for event in events:
            command = self.commands.get(event.button)
            if command is None:
                continue
            try:
                self.on_event(CommandEvent(command, event.pressed, event.button, dev.model.name))
            except Exception:  # noqa: BLE001 - a failing consumer must not kill the poller
                log.exception("dictation microphone event handler failed")
