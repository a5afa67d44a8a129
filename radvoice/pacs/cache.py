"""A local cache of retrieved series: complete series only, written atomically.

Layout: ``ROOT/<StudyInstanceUID>/<SeriesInstanceUID>/*.dcm`` plus ``.complete.json``.
A retrieval writes into ``ROOT/.partial/<series>-<pid>-<n>`` and is renamed into place only
when complete, so a crash, a cancel or a cut-off transfer never leaves a half series behind.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import time
from pathlib import Path

import platformdirs

ENV_VAR = "RADVOICE_PACS_CACHE"
MARKER = ".complete.json"
_UID_RE = re.compile(r"^[0-9.]{1,64}$")
_counter = itertools.count()


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("radvoice", appauthor=False)) / "pacs"


def _safe_uid(uid: str) -> str:
    if not _UID_RE.match(uid):
        from radvoice.pacs.errors import PacsError

        raise PacsError(f"not a DICOM UID: {uid[:70]!r}")
    return uid


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SeriesCache:
    """Complete series by UID; ``begin``/``commit``/``discard`` for one retrieval."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self._partial = self.root / ".partial"
        self._remove_stale_partials()

    def series_dir(self, study_uid: str, series_uid: str) -> Path:
        return self.root / _safe_uid(study_uid) / _safe_uid(series_uid)

    def lookup(self, study_uid: str, series_uid: str) -> Path | None:
        """The folder of a complete cached series, or None."""
        folder = self.series_dir(study_uid, series_uid)
        return folder if (folder / MARKER).is_file() else None

    def info(self, folder: Path) -> dict:
        return json.loads((folder / MARKER).read_text(encoding="utf-8"))

    def begin(self, series_uid: str) -> Path:
        """A fresh private folder for one retrieval."""
        self._partial.mkdir(parents=True, exist_ok=True)
        tmp = self._partial / f"{_safe_uid(series_uid)}-{os.getpid()}-{next(_counter)}"
        tmp.mkdir()
        return tmp

    def commit(self, tmp: Path, study_uid: str, series_uid: str, meta: dict) -> Path:
        """Mark ``tmp`` complete and move it into place (atomic rename); returns the folder."""
        meta = {**meta, "n_files": sum(1 for _ in tmp.glob("*.dcm")), "time": time.time()}
        (tmp / MARKER).write_text(json.dumps(meta), encoding="utf-8")
        final = self.series_dir(study_uid, series_uid)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # an incomplete leftover, or a racing retrieval that won
            if (final / MARKER).is_file():
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final

    def discard(self, tmp: Path) -> None:
        shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, study_uid: str, series_uid: str) -> None:
        shutil.rmtree(self.series_dir(study_uid, series_uid), ignore_errors=True)

    def partials(self) -> list[Path]:
        return sorted(self._partial.glob("*")) if self._partial.is_dir() else []

    def _remove_stale_partials(self) -> None:
        for tmp in self.partials():
            try:
                pid = int(tmp.name.split("-")[-2])
            except (IndexError, ValueError):
                pid = -1
            if pid == os.getpid() or (pid > 0 and _pid_alive(pid)):
                continue
            shutil.rmtree(tmp, ignore_errors=True)
