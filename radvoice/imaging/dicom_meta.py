"""Plain-Python patient/study/series metadata from a pydicom header."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

META_KEYS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "StudyInstanceUID",
    "AccessionNumber",
    "SeriesDate",
    "SeriesDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "Modality",
    "BodyPartExamined",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "KVP",
    "XRayTubeCurrent",
    "SliceThickness",
    "ConvolutionKernel",
    "ContrastBolusAgent",
    "PatientPosition",
    "WindowCenter",
    "WindowWidth",
)
PHI_KEYS: frozenset[str] = frozenset(
    {
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientAge",
        "AccessionNumber",
        "InstitutionName",
    }
)
"""Keys hidden by default in user-facing output (``radvoice info`` without ``--phi``)."""

_FIRST_VALUE = frozenset({"WindowCenter", "WindowWidth", "ConvolutionKernel"})


def _plain(value: Any, first: bool) -> Any:
    if isinstance(value, MultiValue | list | tuple):
        items = [_plain(v, False) for v in value]
        if first:
            return items[0] if items else None
        return items
    if isinstance(value, PersonName):
        return str(value)
    if isinstance(value, float):  # DSfloat
        return float(value)
    if isinstance(value, int):  # IS
        return int(value)
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    return str(value).strip()


def extract_meta(ds: Dataset) -> dict[str, Any]:
    """The :data:`META_KEYS` present in ``ds`` as str/int/float (first value of window tags)."""
    meta: dict[str, Any] = {}
    for key in META_KEYS:
        try:
            value = ds.get(key)
        except Exception:  # a malformed value must not make the whole file unreadable
            continue
        if value is None or value == "":
            continue
        value = _plain(value, key in _FIRST_VALUE)
        if value not in (None, ""):
            meta[key] = value
    return meta
