"""Write a :class:`Volume` as a CT Image Storage DICOM series (tests, benchmarks, export)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from radvoice.imaging.formats import ProgressCallback
from radvoice.imaging.volume import Volume


def _ds_str(value: float) -> str:
    """A DS value (at most 16 characters) for ``value``."""
    text = f"{value:.10g}"
    if len(text) > 16:
        text = (
            f"{value:.6e}"
            if abs(value) >= 1e6 or (value and abs(value) < 1e-4)
            else f"{value:.8f}"[:16]
        )
    return text


def _stored(volume: Volume, intercept: int) -> tuple[np.ndarray, int, bool]:
    """Stored values, the intercept actually used, and whether they are signed."""
    lo, hi = int(volume.array.min()), int(volume.array.max())
    if lo - intercept >= 0 and hi - intercept <= 65535:
        return (volume.array.astype(np.int32) - intercept).astype(np.uint16), intercept, False
    return volume.array, 0, True


def _base_dataset(
    volume: Volume,
    study_uid: str,
    series_uid: str,
    patient_name: str,
    patient_id: str,
    description: str,
    series_number: int,
) -> Dataset:
    now = dt.datetime.now()
    meta = volume.meta
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.Modality = volume.modality or "CT"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = pydicom.uid.generate_uid()
    ds.StudyDate = str(meta.get("StudyDate") or now.strftime("%Y%m%d"))
    ds.StudyTime = now.strftime("%H%M%S")
    ds.SeriesDate = ds.StudyDate
    ds.StudyID = "1"
    ds.AccessionNumber = str(meta.get("AccessionNumber") or "")
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = str(meta.get("StudyDescription") or "RadVoice export")
    ds.SeriesDescription = description or str(meta.get("SeriesDescription") or "RadVoice volume")
    ds.SeriesNumber = series_number
    ds.Manufacturer = str(meta.get("Manufacturer") or "RadVoice")
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.PatientPosition = str(meta.get("PatientPosition") or "HFS")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    _nz, ny, nx = volume.shape
    ds.Rows, ds.Columns = ny, nx
    sx, sy, sz = volume.spacing
    ds.PixelSpacing = [_ds_str(sy), _ds_str(sx)]
    ds.SliceThickness = _ds_str(float(meta.get("SliceThickness") or sz))
    d = volume.direction
    ds.ImageOrientationPatient = [_ds_str(v) for v in (*d[:, 0], *d[:, 1])]
    for key in ("KVP", "ConvolutionKernel", "BodyPartExamined"):
        if meta.get(key) not in (None, ""):
            setattr(ds, key, meta[key])
    window = volume.default_window() or (1500.0, -600.0)
    ds.WindowWidth = _ds_str(window[0])
    ds.WindowCenter = _ds_str(window[1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    return ds


def write_dicom_series(
    volume: Volume,
    folder: str | Path,
    series_uid: str | None = None,
    study_uid: str | None = None,
    file_names: Literal["uid", "index"] = "uid",
    patient_name: str = "Anonymous^Sample",
    patient_id: str = "RADVOICE-SAMPLE",
    series_description: str = "",
    series_number: int = 1,
    intercept: int = -1024,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write one file per slice (k = 0 first) into ``folder``; returns the paths in k order.

    Geometry comes from the volume (ImagePositionPatient = origin + k * sz * k-axis,
    ImageOrientationPatient = the i and j axes, PixelSpacing = (sy, sx)). Pixels are stored
    as unsigned 16-bit with ``RescaleIntercept = intercept`` when the HU range allows, else as
    signed 16-bit with intercept 0. ``file_names``: ``'uid'`` (SOPInstanceUID.dcm) or
    ``'index'`` (IM00001.dcm ...). The patient is synthetic unless told otherwise.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    base = _base_dataset(
        volume, study_uid, series_uid, patient_name, patient_id, series_description, series_number
    )
    stored, used_intercept, signed = _stored(volume, intercept)
    base.PixelRepresentation = 1 if signed else 0
    base.RescaleIntercept = str(used_intercept)
    k_axis = volume.direction[:, 2]
    normal = np.cross(volume.direction[:, 0], volume.direction[:, 1])
    origin = np.asarray(volume.origin)
    nz = volume.shape[0]
    paths: list[Path] = []
    for k in range(nz):
        ds = Dataset()
        ds.update(base)
        sop_uid = generate_uid()
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        pos = origin + k_axis * volume.spacing[2] * k
        ds.ImagePositionPatient = [_ds_str(v) for v in pos]
        ds.SliceLocation = _ds_str(float(np.dot(pos, normal)))
        ds.PixelData = (
            np.ascontiguousarray(stored[k]).astype("<u2" if not signed else "<i2").tobytes()
        )
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        name = f"{sop_uid}.dcm" if file_names == "uid" else f"IM{k + 1:05d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        if progress is not None:
            progress((k + 1) / nz, f"wrote slice {k + 1}/{nz}")
    return paths
