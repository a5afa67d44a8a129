"""Loading volumes off the GUI thread.

A :class:`LoadThread` discovers the series of a folder (asking the GUI to choose when there are
several) or reads one volume with progress, and prepares its display orientation. Errors come
back as one-line messages through ``failed``; :meth:`LoadThread.cancel` aborts at the next
progress report.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from radvoice import imaging
from radvoice.components.orientation import OrientedVolume
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)


class LoadCancelled(RadVoiceError):
    """The user closed the window or started another load."""


class LoadThread(QThread):
    """Read ``path`` (optionally one DICOM series) in a worker thread."""

    progress = Signal(float, str)
    loaded = Signal(object, object)  # (Volume, OrientedVolume)
    choose_series = Signal(str, list)  # (path, [SeriesInfo]) - several series in a folder
    failed = Signal(str)

    def __init__(self, path: str | Path, series_uid: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.path = str(path)
        self.series_uid = series_uid
        self._cancelled = False
        self._can_abort = Path(self.path).is_dir()

    def cancel(self) -> None:
        self._cancelled = True

    def _report(self, fraction: float, message: str) -> None:
        if self._cancelled:
            # raising aborts a DICOM read; an ITK reader calls back from C++, where an
            # exception cannot propagate: there the result is dropped when the read ends
            if self._can_abort:
                raise LoadCancelled("loading cancelled")
            return
        self.progress.emit(float(fraction), str(message))

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            path = Path(self.path)
            if path.is_dir() and self.series_uid is None:
                self._report(0.0, "Looking for DICOM series…")
                series = imaging.discover(path)
                if len(series) > 1:
                    self.choose_series.emit(self.path, series)
                    return
                if len(series) == 1:
                    self.series_uid = series[0].uid
            self._report(0.0, f"Reading {path.name}…")
            volume = imaging.read_volume(path, series_uid=self.series_uid, progress=self._report)
            self._report(1.0, "Preparing views…")
            oriented = OrientedVolume(volume)
            if self._cancelled:
                return
            log.info("loaded %s", volume.describe())
            self.loaded.emit(volume, oriented)
        except LoadCancelled:
            log.info("load cancelled")
        except RadVoiceError as err:
            self.failed.emit(str(err).splitlines()[0] if str(err) else type(err).__name__)
        except MemoryError:
            self.failed.emit(f"{Path(self.path).name}: not enough memory to open this volume")
        except Exception as err:  # noqa: BLE001 - the GUI must stay up on any reader bug
            log.exception("unexpected error while loading")
            self.failed.emit(f"{Path(self.path).name}: could not be opened ({type(err).__name__})")
