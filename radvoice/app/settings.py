"""QSettings for the app: recent files, geometry, shortcuts, last preset.

``RADVOICE_SETTINGS_DIR`` (tests, portable installs) puts an INI file in that folder instead
of the platform's settings store.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "RadVoice"
APPLICATION = "RadVoice"
SETTINGS_ENV = "RADVOICE_SETTINGS_DIR"
MAX_RECENT = 9


def make_settings() -> QSettings:
    folder = os.environ.get(SETTINGS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "radvoice.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def read_list(settings: QSettings, key: str) -> list[str]:
    """A string list (QSettings returns a str for one element and None for none)."""
    value = settings.value(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes", "on")
    return bool(value)


def push_recent(recent: list[str], path: str) -> list[str]:
    """``path`` first, no duplicates, at most :data:`MAX_RECENT`."""
    path = str(Path(path).expanduser().resolve())
    return ([path] + [p for p in recent if p != path])[:MAX_RECENT]
