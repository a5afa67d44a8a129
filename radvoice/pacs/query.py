"""Study queries and their results, independent of DIMSE or DICOMweb."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from radvoice.pacs.errors import PacsQueryError

_DATE_RE = re.compile(r"^\d{8}$")

STUDY_KEYS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
SERIES_KEYS = (
    "SeriesInstanceUID",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "BodyPartExamined",
    "NumberOfSeriesRelatedInstances",
)


def _date(value: str, what: str) -> str:
    value = value.replace("-", "") if len(value) == 10 else value
    if value and not _DATE_RE.match(value):
        raise PacsQueryError(f"{what} must be YYYYMMDD or YYYY-MM-DD, got {value!r}")
    return value


@dataclass(frozen=True)
class StudyQuery:
    """What to look for; empty fields match anything. Names accept ``*`` wildcards."""

    patient_id: str = ""
    patient_name: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    accession: str = ""
    study_uid: str = ""

    def date_range(self) -> str:
        lo, hi = _date(self.date_from, "date from"), _date(self.date_to, "date to")
        if lo and hi and lo > hi:
            raise PacsQueryError(f"date range is reversed: {lo} > {hi}")
        return f"{lo}-{hi}" if (lo or hi) and lo != hi else lo

    def is_empty(self) -> bool:
        return not any(
            (self.patient_id, self.patient_name, self.date_from, self.date_to, self.accession,
             self.study_uid, self.modality)
        )

    def to_dataset(self) -> Dataset:
        """A study-level C-FIND identifier with the return keys."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        for key in STUDY_KEYS:
            setattr(ds, key, "")
        ds.PatientID = self.patient_id
        ds.PatientName = self.patient_name
        ds.StudyDate = self.date_range()
        ds.ModalitiesInStudy = self.modality
        ds.AccessionNumber = self.accession
        ds.StudyInstanceUID = self.study_uid
        return ds

    def to_qido(self) -> dict[str, str]:
        """QIDO-RS search filters (only the non-empty ones)."""
        pairs = {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.date_range(),
            "ModalitiesInStudy": self.modality,
            "AccessionNumber": self.accession,
            "StudyInstanceUID": self.study_uid,
        }
        return {k: v for k, v in pairs.items() if v}


def _text(ds: Any, key: str) -> str:
    value = getattr(ds, key, "") if ds is not None else ""
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _int(ds: Any, key: str) -> int | None:
    try:
        text = _text(ds, key)
        return int(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StudyInfo:
    """One study found on a PACS."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = field(default="", repr=False)
    study_date: str = ""
    study_time: str = ""
    description: str = ""
    accession: str = ""
    modalities: str = ""
    n_series: int | None = None
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyInfo:
        return cls(
            study_uid=_text(ds, "StudyInstanceUID"),
            patient_id=_text(ds, "PatientID"),
            patient_name=_text(ds, "PatientName"),
            study_date=_text(ds, "StudyDate"),
            study_time=_text(ds, "StudyTime"),
            description=_text(ds, "StudyDescription"),
            accession=_text(ds, "AccessionNumber"),
            modalities=_text(ds, "ModalitiesInStudy"),
            n_series=_int(ds, "NumberOfStudyRelatedSeries"),
            n_instances=_int(ds, "NumberOfStudyRelatedInstances"),
        )

    def to_json(self, with_name: bool = False) -> dict[str, Any]:
        out = {
            "study_uid": self.study_uid,
            "patient_id": self.patient_id,
            "study_date": self.study_date,
            "description": self.description,
            "accession": self.accession,
            "modalities": self.modalities,
            "n_series": self.n_series,
            "n_instances": self.n_instances,
        }
        if with_name:
            out["patient_name"] = self.patient_name
        return out


@dataclass(frozen=True)
class RemoteSeries:
    """One series of a study on a PACS."""

    study_uid: str
    series_uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    body_part: str = ""
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, study_uid: str, ds: Dataset) -> RemoteSeries:
        return cls(
            study_uid=study_uid,
            series_uid=_text(ds, "SeriesInstanceUID"),
            modality=_text(ds, "Modality"),
            description=_text(ds, "SeriesDescription"),
            number=_int(ds, "SeriesNumber"),
            body_part=_text(ds, "BodyPartExamined"),
            n_instances=_int(ds, "NumberOfSeriesRelatedInstances"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "study_uid": self.study_uid,
            "series_uid": self.series_uid,
            "modality": self.modality,
            "description": self.description,
            "number": self.number,
            "body_part": self.body_part,
            "n_instances": self.n_instances,
        }


def series_dataset(study_uid: str) -> Dataset:
    """A series-level C-FIND identifier for one study."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study_uid
    for key in SERIES_KEYS:
        setattr(ds, key, "")
    return ds
