"""Read DICOM files for a store, with one-line errors for what is not DICOM."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from radvoice.pacs.errors import StoreError


def read_for_store(paths: Iterable[str | Path]) -> list[Dataset]:
    out = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise StoreError(f"not a file: {path}")
        try:
            out.append(pydicom.dcmread(path))
        except (pydicom.errors.InvalidDicomError, OSError, ValueError):
            raise StoreError(f"not a DICOM file: {path}") from None
    return out
