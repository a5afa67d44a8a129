"""Where a case library lives: ``--library DIR`` > ``$RADVOICE_LIBRARY`` > per-user data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "RADVOICE_LIBRARY"
DB_NAME = "library.sqlite"
INDEX_SUFFIX = ".faiss"


def default_library_dir() -> Path:
    """The per-user default, e.g. ``~/.local/share/radvoice/library`` on Linux."""
    return Path(platformdirs.user_data_dir("radvoice", appauthor=False)) / "library"


def resolve_library_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The library folder chosen by an explicit argument, the environment, or the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return default_library_dir()


def db_path(directory: Path) -> Path:
    return directory / DB_NAME


def index_path(directory: Path, space: str) -> Path:
    """The faiss index file of one embedding space (``ct`` or ``report``)."""
    return directory / f"{space}{INDEX_SUFFIX}"
