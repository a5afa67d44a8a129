"""The CT series that exported results refer to, in the reader's slice order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from radvoice.export.errors import ExportError

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def _normal_position(ds: Dataset) -> float:
    o = np.asarray(ds.ImageOrientationPatient, float)
    return float(np.dot(np.cross(o[:3], o[3:]), np.asarray(ds.ImagePositionPatient, float)))


def load_source_series(folder: str | Path, series_uid: str | None = None) -> list[Dataset]:
    """Headers (no pixels) of one CT Image Storage series, sorted along the slice normal."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"DICOM results need the source DICOM series folder; not a folder: {folder}")
    by_series: dict[str, list[Dataset]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            continue
        if str(getattr(ds, "SOPClassUID", "")) != CT_IMAGE or "ImagePositionPatient" not in ds:
            continue
        by_series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    if series_uid:
        by_series = {k: v for k, v in by_series.items() if k == series_uid}
    if not by_series:
        raise ExportError(f"no CT image series in {folder}: DICOM export needs the source CT series")
    if len(by_series) > 1:
        raise ExportError(f"{folder} holds {len(by_series)} CT series: choose one with --series")
    (datasets,) = by_series.values()
    return sorted(datasets, key=_normal_position)


def check_grid(sources: list[Dataset], shape: tuple[int, int, int]) -> None:
    """Raise unless ``shape`` (nz, ny, nx) is the sources' grid."""
    grid = (len(sources), int(sources[0].Rows), int(sources[0].Columns))
    if tuple(shape) != grid:
        raise ExportError(f"map shape {tuple(shape)} is not the source series' grid {grid}")
