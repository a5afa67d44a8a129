"""The DICOM test files of pydicom and pydicom-data, found on disk (never downloaded), and
small files of the kinds both lack (PET, MG, DX, XA, PR, a CT localizer...) built from a CT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pydicom.data

from radvoice.imaging import Volume, write_dicom_series


def pydicom_files() -> Path:
    """pydicom's own test files (shipped in its wheel)."""
    return Path(pydicom.data.__file__).parent / "test_files"


def pydicom_data_files() -> Path:
    """pydicom-data's files (the [dev] extra): CR chest radiographs, MR, US, SEG, ..."""
    import data_store  # pydicom-data; imported directly so no download path can run

    return Path(data_store.__file__).parent / "data"


def corpus_file(name: str) -> Path:
    for folder in (pydicom_files(), pydicom_data_files()):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} is in neither pydicom's nor pydicom-data's test files")


def all_corpus_files() -> list[Path]:
    return sorted([*pydicom_files().glob("*.dcm"), *pydicom_data_files().glob("*.dcm")])


def small_ct(n: int = 4) -> Volume:
    arr = np.full((n, 12, 10), -1000, dtype=np.int16)
    arr[:, 3:9, 2:8] = 40
    return Volume(arr, spacing=(0.8, 0.8, 2.0), origin=(-4.0, -5.0, 10.0))


def retyped(folder: Path, sop_class: str, modality: str, n: int = 1, **edits) -> list[Path]:
    """``n`` images of one series written as CT, then given another SOP class and Modality
    (and any other ``edits``: a value of None deletes the element). An empty ``sop_class``
    writes an old-style file: no SOP class, no file meta, no preamble."""
    paths = write_dicom_series(small_ct(n), folder, series_uid=pydicom.uid.generate_uid())
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.SOPClassUID = sop_class
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.Modality = modality
        for key, value in edits.items():
            if value is None:
                if key in ds:
                    delattr(ds, key)
            else:
                setattr(ds, key, value)
        if sop_class:
            ds.save_as(p)
            continue
        del ds.SOPClassUID
        del ds.file_meta
        ds.save_as(p, implicit_vr=True, little_endian=True)
    return paths
