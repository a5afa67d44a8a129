"""Readers for the CT-RATE layout, so a user with the real data trains with the same code.

Layout (``ROOT`` is the ``dataset`` folder of the CT-RATE download, or its parent)::

    ROOT/train/train_1/train_1_a/train_1_a_1.nii.gz          (valid/valid_1/valid_1_a/...)
    ROOT/radiology_text_reports/train_reports.csv            (validation_reports.csv)
    ROOT/metadata/train_metadata.csv                         (validation_metadata.csv)
    ROOT/multi_abnormality_labels/train_predicted_labels.csv (valid_predicted_labels.csv)

The NIfTI files hold *stored* values: HU = RescaleSlope * value + RescaleIntercept with both
from the metadata CSV, and the voxel spacing comes from its XYSpacing/ZSpacing columns (the
headers are unreliable). This matches CT-CLIP's loader (``slope * nib.get_fdata() +
intercept``; SimpleITK applies any header scaling exactly as nibabel does).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.data.records import CaseRecord
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES

CTRATE_SPLITS: tuple[str, ...] = ("train", "valid")
NAME_RE = re.compile(r"^(train|valid)_(\d+)_([a-z]+)_(\d+)$")
REPORT_COLUMNS = (
    "VolumeName",
    "ClinicalInformation_EN",
    "Technique_EN",
    "Findings_EN",
    "Impressions_EN",
)
METADATA_REQUIRED = ("VolumeName", "RescaleSlope", "RescaleIntercept", "XYSpacing", "ZSpacing")
_CSV_FOLDERS = {
    "reports": "radiology_text_reports",
    "metadata": "metadata",
    "labels": "multi_abnormality_labels",
}
_META_KEEP = (
    "Manufacturer",
    "ManufacturerModelName",
    "SeriesDescription",
    "PatientSex",
    "PatientAge",
    "ConvolutionKernel",
    "StudyDate",
)


class CTRateError(RadVoiceError):
    """A CT-RATE folder, CSV or volume that cannot be read as the documented layout."""


def volume_stem(name: str) -> str:
    """``train_1_a_1.nii.gz`` -> ``train_1_a_1``."""
    base = Path(name).name
    for suffix in (".nii.gz", ".nii", ".npz"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def volume_relpath(name: str) -> Path:
    """Where a volume lives under ROOT: ``train/train_1/train_1_a/train_1_a_1.nii.gz``."""
    stem = volume_stem(name)
    m = NAME_RE.match(stem)
    if m is None:
        raise CTRateError(f"not a CT-RATE volume name: {name!r} (expected e.g. train_1_a_1)")
    split, patient, scan, _ = m.groups()
    return Path(split, f"{split}_{patient}", f"{split}_{patient}_{scan}", f"{stem}.nii.gz")


def parse_xy_spacing(value: Any) -> tuple[float, float]:
    """``"[0.75, 0.75]"`` (row, column spacing in mm, DICOM PixelSpacing order) -> floats."""
    nums = re.findall(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?", str(value))
    if len(nums) == 1:
        nums = nums * 2
    if len(nums) != 2:
        raise CTRateError(f"cannot read XYSpacing {value!r}")
    row, col = float(nums[0]), float(nums[1])
    if row <= 0 or col <= 0:
        raise CTRateError(f"XYSpacing must be positive, got {value!r}")
    return row, col


def _clean_text(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    return "" if text in ("Not given.", "nan", "NaN", "None") else text


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise CTRateError(f"{path.name} lacks column(s) {', '.join(missing)}")
            return list(reader)
    except OSError as err:
        raise CTRateError(f"cannot read {path}: {err.strerror or err}") from err
    except (csv.Error, UnicodeDecodeError) as err:
        raise CTRateError(f"{path.name} is not a readable CSV: {err}") from err


@dataclass(frozen=True)
class VolumeMetadata:
    """The metadata-CSV row of one volume."""

    slope: float
    intercept: float
    xy_spacing: tuple[float, float]
    z_spacing: float
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """(sx, sy, sz): column spacing, row spacing, slice spacing."""
        return self.xy_spacing[1], self.xy_spacing[0], self.z_spacing


def read_reports(path: Path) -> dict[str, tuple[str, str]]:
    """VolumeName stem -> (findings, impression). "Not given." counts as empty."""
    rows = _read_csv(path, ("VolumeName", "Findings_EN", "Impressions_EN"))
    return {
        volume_stem(r["VolumeName"]): (
            _clean_text(r["Findings_EN"]),
            _clean_text(r["Impressions_EN"]),
        )
        for r in rows
    }


def read_metadata(path: Path) -> dict[str, VolumeMetadata]:
    """VolumeName stem -> rescale and spacing."""
    out: dict[str, VolumeMetadata] = {}
    for r in _read_csv(path, METADATA_REQUIRED):
        name = volume_stem(r["VolumeName"])
        try:
            slope, intercept = float(r["RescaleSlope"]), float(r["RescaleIntercept"])
            z = float(r["ZSpacing"])
        except ValueError as err:
            raise CTRateError(f"{path.name}: bad number for {name}: {err}") from err
        if not (math.isfinite(slope) and math.isfinite(intercept)) or slope == 0:
            raise CTRateError(f"{path.name}: bad RescaleSlope/Intercept for {name}")
        if not (math.isfinite(z) and z > 0):
            raise CTRateError(f"{path.name}: ZSpacing must be positive for {name}")
        extra = {k: r[k] for k in _META_KEEP if r.get(k) not in (None, "")}
        out[name] = VolumeMetadata(slope, intercept, parse_xy_spacing(r["XYSpacing"]), z, extra)
    return out


def read_labels(path: Path) -> dict[str, np.ndarray]:
    """VolumeName stem -> int8 labels in :data:`PATHOLOGIES` order (columns matched by name)."""
    rows = _read_csv(path, ("VolumeName", *PATHOLOGIES))
    out: dict[str, np.ndarray] = {}
    for r in rows:
        try:
            values = [int(float(r[p])) for p in PATHOLOGIES]
        except ValueError as err:
            raise CTRateError(f"{path.name}: bad label for {r['VolumeName']}: {err}") from err
        out[volume_stem(r["VolumeName"])] = np.asarray(values, dtype=np.int8)
    return out


def read_ctrate_volume(path: str | Path, meta: VolumeMetadata) -> Volume:
    """A CT-RATE NIfTI as a HU :class:`Volume` with the metadata's rescale and spacing."""
    import SimpleITK as sitk

    path = Path(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise CTRateError(f"cannot read CT-RATE volume {path.name}: not a readable NIfTI") from err
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise CTRateError(f"{path.name} is not a 3-D scalar volume")
    stored = sitk.GetArrayViewFromImage(image)
    hu = np.empty(stored.shape, dtype=np.int16)
    for k in range(stored.shape[0]):  # slice by slice: no full float copy of a 512^2 x 300 volume
        hu[k] = np.clip(np.rint(stored[k] * meta.slope + meta.intercept), -32768, 32767)
    warnings: list[str] = []
    header = tuple(float(s) for s in image.GetSpacing())
    if any(abs(h - m) > 0.01 * m for h, m in zip(header, meta.spacing, strict=True)):
        got = tuple(round(s, 3) for s in header)
        want = tuple(round(s, 3) for s in meta.spacing)
        warnings.append(f"NIfTI header spacing {got} differs from the metadata {want}; using it")
    sample = hu[:: max(1, hu.shape[0] // 8), ::4, ::4]
    if sample.size and (np.percentile(sample, 1) < -1600 or np.min(sample) > -500):
        warnings.append("values after RescaleSlope/Intercept do not look like HU; check metadata")
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    if np.all(np.isfinite(direction)) and abs(np.linalg.det(direction)) > 1e-3:
        u, _, vt = np.linalg.svd(direction)  # nearest orthonormal frame
        direction = u @ vt
    else:
        direction = np.eye(3)
        warnings.append("NIfTI header orientation unusable; assuming axial LPS")
    return Volume(
        array=hu,
        spacing=meta.spacing,
        origin=tuple(float(o) for o in image.GetOrigin()),
        direction=direction,
        meta={
            **meta.extra,
            "RescaleSlope": meta.slope,
            "RescaleIntercept": meta.intercept,
            "SeriesDescription": meta.extra.get("SeriesDescription", volume_stem(path.name)),
        },
        warnings=warnings,
        source=str(path),
    )


def _find_csv(root: Path, kind: str, split: str) -> Path | None:
    """The CSV of ``kind`` for ``split``: in its usual folder, else anywhere under ROOT."""
    prefix = "train" if split == "train" else "valid"
    keyword = {"reports": "report", "metadata": "metadata", "labels": "label"}[kind]
    folder = root / _CSV_FOLDERS[kind]
    candidates = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    if not candidates:
        candidates = sorted(p for p in root.rglob("*.csv") if keyword in p.name.lower())
    matches = [p for p in candidates if p.name.lower().startswith(prefix)]
    return min(matches, key=lambda p: (len(p.name), p.name)) if matches else None


@dataclass
class CTRateLayout:
    """Where the parts of a CT-RATE download are."""

    root: Path

    @staticmethod
    def discover(path: str | Path) -> CTRateLayout:
        """Accept the ``dataset`` folder or the folder that contains it."""
        path = Path(path).expanduser()
        if not path.is_dir():
            raise CTRateError(f"CT-RATE folder not found: {path}")
        for cand in (path, path / "dataset"):
            if any((cand / s).is_dir() for s in CTRATE_SPLITS):
                return CTRateLayout(cand)
        raise CTRateError(f"{path} has no train/ or valid/ folder of the CT-RATE layout")

    def csv(self, kind: str, split: str) -> Path:
        found = _find_csv(self.root, kind, split)
        if found is None:
            raise CTRateError(
                f"no {split} {kind} CSV under {self.root} (expected {_CSV_FOLDERS[kind]}/*.csv)"
            )
        return found

    def volumes(self, split: str) -> dict[str, Path]:
        """Volume stem -> NIfTI path for every volume on disk in ``split``."""
        if split not in CTRATE_SPLITS:
            raise CTRateError(f"unknown CT-RATE split {split!r} (train or valid)")
        base = self.root / split
        if not base.is_dir():
            return {}
        return {volume_stem(p.name): p for p in sorted(base.glob("*/*/*.nii.gz"))}


class CTRateDataset:
    """Iterable of :class:`CaseRecord` for one CT-RATE split (volumes on disk that have a
    report, labels and metadata). ``skipped`` says which volumes were left out and why."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        speech_root: str | Path | None = None,
        load_volumes: bool = True,
    ) -> None:
        from radvoice.data.speechrate import SpeechRateIndex

        self.layout = CTRateLayout.discover(root)
        self.split = split
        self.load_volumes = load_volumes
        self.reports = read_reports(self.layout.csv("reports", split))
        self.metadata = read_metadata(self.layout.csv("metadata", split))
        self.labels = read_labels(self.layout.csv("labels", split))
        self.speech = SpeechRateIndex(speech_root) if speech_root is not None else None
        self.paths: dict[str, Path] = {}
        self.skipped: dict[str, str] = {}
        for name, path in self.layout.volumes(split).items():
            missing = [
                what
                for what, table in (
                    ("report", self.reports),
                    ("metadata", self.metadata),
                    ("labels", self.labels),
                )
                if name not in table
            ]
            if missing:
                self.skipped[name] = "no " + " or ".join(missing)
            else:
                self.paths[name] = path

    def __len__(self) -> int:
        return len(self.paths)

    def names(self) -> list[str]:
        return list(self.paths)

    def record(self, name: str) -> CaseRecord:
        """The record of one volume (stem like ``train_1_a_1``)."""
        name = volume_stem(name)
        if name not in self.paths:
            raise CTRateError(f"{name} is not in the CT-RATE {self.split} split here")
        path, meta = self.paths[name], self.metadata[name]
        findings, impression = self.reports[name]
        return CaseRecord(
            case_id=name,
            findings=findings,
            impression=impression,
            labels=self.labels[name],
            volume=read_ctrate_volume(path, meta) if self.load_volumes else None,
            volume_path=path,
            audio_path=self.speech.findings(name) if self.speech is not None else None,
            split=self.split,
            source="ct-rate",
            meta={"spacing": meta.spacing},
        )

    def __iter__(self) -> Iterator[CaseRecord]:
        for name in self.paths:
            yield self.record(name)
