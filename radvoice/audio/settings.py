"""The user's microphone choice and talk mode, persisted as JSON in a caller-given folder."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from radvoice.audio.backend import InputDevice
from radvoice.audio.errors import MicrophoneUnavailableError
from radvoice.audio.utterance import TalkMode

log = logging.getLogger(__name__)

SETTINGS_FILE = "microphone.json"


@dataclass
class MicrophoneSettings:
    device_name: str | None = None  # None: the system default input
    mode: TalkMode = TalkMode.HOLD

    @classmethod
    def load(cls, config_dir: str | Path | None) -> MicrophoneSettings:
        """Read the settings; a missing or damaged file gives the defaults (and a log line)."""
        if config_dir is None:
            return cls()
        path = Path(config_dir) / SETTINGS_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            name = data.get("device_name")
            return cls(
                device_name=str(name) if name else None,
                mode=TalkMode(data.get("mode", TalkMode.HOLD.value)),
            )
        except (OSError, ValueError, AttributeError) as err:
            log.warning("ignoring unreadable microphone settings %s: %s", path.name, err)
            return cls()

    def save(self, config_dir: str | Path | None) -> None:
        """Write atomically (temporary file + rename)."""
        if config_dir is None:
            return
        folder = Path(config_dir)
        folder.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"mode": self.mode.value}
        tmp = folder / (SETTINGS_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, folder / SETTINGS_FILE)


def choose_device(devices: list[InputDevice], preferred: str | None) -> InputDevice:
    """The preferred device by name if present, else the default input, else the first one."""
    if not devices:
        raise MicrophoneUnavailableError("no microphone found")
    if preferred:
        for dev in devices:
            if dev.name == preferred:
                return dev
        log.info("preferred microphone not present; using the default input")
    for dev in devices:
        if dev.is_default:
            return dev
    return devices[0]
