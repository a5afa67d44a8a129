"""Find the DICOM series in a folder from headers only (no pixel data is read)."""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import Tag
from pydicom.uid import UID

from radvoice.imaging.dicom_frames import expand_frames
from radvoice.imaging.dicom_kind import (
    MEDIA_DIRECTORY,
    RefusedFile,
    group_refused,
    no_ct_error,
    object_kind,
    series_kind,
)
from radvoice.imaging.dicom_meta import extract_meta
from radvoice.imaging.errors import EmptyInputError, MissingPathError, NoImageError
from radvoice.imaging.formats import ProgressCallback, itk_format
from radvoice.imaging.series import SeriesInfo, SliceHeader

NON_IMAGE_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.1.3.10",  # Media Storage Directory (DICOMDIR)
        "1.2.840.10008.5.1.4.1.1.11.1",  # Grayscale Softcopy Presentation State
        "1.2.840.10008.5.1.4.1.1.66",  # Raw Data
        "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF
    }
)
_SKIP_NAMES = frozenset({"dicomdir", "thumbs.db", "desktop.ini"})
_NOT_DICOM_SUFFIXES = frozenset(
    {
        ".txt",
        ".md",
        ".json",
        ".xml",
        ".csv",
        ".html",
        ".pdf",
        ".jpg",
        ".jpeg",
        ".png",
        ".zip",
        ".nii",
        ".gz",
        ".nrrd",
        ".nhdr",
        ".mha",
        ".mhd",
        ".raw",
        ".py",
        ".log",
        ".ini",
        ".exe",
    }
)


@dataclass
class ScanResult:
    """CT series found, the files that looked like DICOM but could not be parsed, and the
    series that are not CT volumes (each with its ``refusal``)."""

    series: list[SeriesInfo]
    skipped: list[tuple[Path, str]]
    n_files: int
    refused: list[SeriesInfo] = field(default_factory=list)


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in (value if isinstance(value, tuple) else (value,)))
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(math.isfinite(v) for v in out) else None


def _plain(value: Any) -> Any:
    """An immutable plain value: MultiValue -> tuple, DS/IS -> float/int."""
    if isinstance(value, MultiValue | list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value.real
    return value


class HeaderValues:
    """Element values of one scan, converted by pydicom once per distinct raw value.

    Most elements (size, orientation, spacing, rescale...) repeat from file to file, and
    pydicom's conversion is the main cost of a header scan, so converted values are cached
    by their raw bytes and the file's encoding.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def get(self, ds: pydicom.Dataset, keyword: str, cache: bool = True) -> Any:
        tag = _TAGS[keyword]
        elem = ds.get_item(tag)
        if elem is None:
            return None
        raw = elem.value
        if not cache or not isinstance(elem, RawDataElement) or not isinstance(raw, bytes):
            return _plain(ds[tag].value)
        key = (tag, elem.VR, raw, getattr(ds, "original_encoding", None))
        if key not in self._cache:
            self._cache[key] = _plain(ds[tag].value)
        return self._cache[key]

    def num(self, ds: pydicom.Dataset, keyword: str, default: float, cache: bool = True) -> float:
        try:
            value = self.get(ds, keyword, cache)
        except (TypeError, ValueError):
            return default
        if isinstance(value, tuple):
            value = value[0] if value else None
        try:
            return default if value is None or value == "" else float(value)
        except (TypeError, ValueError):
            return default


_KEYWORDS = (
    "SOPClassUID",
    "Modality",
    "ImageType",
    "SeriesInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "RescaleSlope",
    "RescaleIntercept",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "SamplesPerPixel",
    "NumberOfFrames",
    "SliceThickness",
)
_TAGS = {k: Tag(k) for k in _KEYWORDS}


class IncompleteHeaderError(ValueError):
    """An image file whose header lacks required elements (usually a truncated file)."""


def _header(
    ds: pydicom.Dataset, path: Path, offset: int | None, v: HeaderValues
) -> SliceHeader | None:
    """A :class:`SliceHeader`, or None when the dataset is not an image.

    Raises :class:`IncompleteHeaderError` for an image SOP class without Rows/Columns/UIDs.
    """
    file_meta = getattr(ds, "file_meta", None)
    sop_class = sop_class_of(ds, v)
    if sop_class in NON_IMAGE_SOP_CLASSES:
        return None
    missing = [k for k in ("Rows", "Columns", "SeriesInstanceUID") if _TAGS[k] not in ds]
    if missing:
        if "Image Storage" in UID(sop_class).name:
            raise IncompleteHeaderError(f"header lacks {', '.join(missing)} (truncated?)")
        return None
    spacing = v.get(ds, "PixelSpacing") or v.get(ds, "ImagerPixelSpacing")
    ts = getattr(file_meta, "TransferSyntaxUID", None)
    bits = int(v.num(ds, "BitsAllocated", 16))
    return SliceHeader(
        path=path,
        series_uid=str(v.get(ds, "SeriesInstanceUID")),
        instance=int(v.num(ds, "InstanceNumber", 0, cache=False)),
        rows=int(v.num(ds, "Rows", 0)),
        columns=int(v.num(ds, "Columns", 0)),
        position=_floats(v.get(ds, "ImagePositionPatient", cache=False), 3),  # type: ignore[arg-type]
        orientation=_floats(v.get(ds, "ImageOrientationPatient"), 6),
        pixel_spacing=_floats(spacing, 2),  # type: ignore[arg-type]
        slope=v.num(ds, "RescaleSlope", 1.0) or 1.0,
        intercept=v.num(ds, "RescaleIntercept", 0.0),
        bits_allocated=bits,
        bits_stored=int(v.num(ds, "BitsStored", bits)),
        signed=int(v.num(ds, "PixelRepresentation", 0)) == 1,
        samples=int(v.num(ds, "SamplesPerPixel", 1)),
        frames=int(v.num(ds, "NumberOfFrames", 1)),
        transfer_syntax=str(ts or pydicom.uid.ImplicitVRLittleEndian),
        thickness=v.num(ds, "SliceThickness", 0.0) or None,
        pixel_offset=offset,
    )


def sop_class_of(ds: pydicom.Dataset, v: HeaderValues | None = None) -> str:
    """The SOP Class UID of a header (from the file meta when the dataset lacks it)."""
    v = v or HeaderValues()
    file_meta = getattr(ds, "file_meta", None)
    return str(v.get(ds, "SOPClassUID") or getattr(file_meta, "MediaStorageSOPClassUID", "") or "")


def header_kind(ds: pydicom.Dataset, v: HeaderValues | None = None) -> str | None:
    """What the object of a header is when it is not a CT image (see :func:`object_kind`)."""
    v = v or HeaderValues()
    image_type = v.get(ds, "ImageType") or ()
    image_type = image_type if isinstance(image_type, tuple) else (image_type,)
    modality = v.get(ds, "Modality")
    return object_kind(sop_class_of(ds, v), str(modality or ""), tuple(str(t) for t in image_type))


def _looks_like_raw_dicom(path: Path) -> bool:
    """A DICOM file without preamble starts with a group 0002 or 0008 tag."""
    if path.suffix and path.suffix.lower() not in (".dcm", ".ima", ".dicom"):
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head[:2] in (b"\x02\x00", b"\x08\x00")


def read_header_at(path: Path) -> tuple[pydicom.Dataset | None, int | None]:
    """The header of a DICOM file (read with ``stop_before_pixels``) and the file offset where
    pydicom stopped, i.e. of the PixelData element; ``(None, None)`` if it is not DICOM.

    Raises the underlying parse error for a file that is DICOM but broken (e.g. truncated).
    """
    with path.open("rb") as fh:
        try:
            ds = pydicom.dcmread(fh, stop_before_pixels=True)
        except InvalidDicomError:
            if not _looks_like_raw_dicom(path):
                return None, None
            fh.seek(0)
            with warnings.catch_warnings():  # pydicom complains at length about forced garbage
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
        return ds, fh.tell()


def read_header(path: Path) -> pydicom.Dataset | None:
    """The header of a DICOM file (no pixels), None if it is not DICOM."""
    return read_header_at(path)[0]


def iter_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Candidate files, sorted, without hidden files/folders, DICOMDIR or obvious non-DICOM."""
    out: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        for name in sorted(files):
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            p = Path(root, name)
            if p.suffix.lower() in _NOT_DICOM_SUFFIXES or not p.is_file():
                continue
            out.append(p)
    return out


def scan_folder(
    folder: Path,
    progress: ProgressCallback | None = None,
    recursive: bool = True,
    require_ct: bool = True,
) -> ScanResult:
    """Group the DICOM images under ``folder`` by SeriesInstanceUID, reading headers only.

    DICOM objects that are not CT volumes go to ``refused`` with the reason. Raises
    :class:`EmptyInputError` for a folder without files, :class:`NoImageError` when none of
    the files is a DICOM object, and (with ``require_ct``) :class:`NotCTVolumeError` when no
    series is a CT volume.
    """
    result = _scan_folder(folder, progress, recursive)
    if require_ct and not result.series:
        raise no_ct_error(folder, result.refused)
    return result


def _scan_folder(folder: Path, progress: ProgressCallback | None, recursive: bool) -> ScanResult:
    if not folder.exists():
        raise MissingPathError(f"{folder}: no such file or folder")
    files = iter_files(folder, recursive)
    any_file = bool(files) or any(
        not n.startswith(".") for _, _, names in os.walk(folder) for n in names
    )
    if not any_file:
        raise EmptyInputError(f"{folder}: the folder is empty")
    signature = _signature(folder, recursive, files)
    with _CACHE_LOCK:
        cached = _CACHE.get(signature)
    if cached is not None:
        if progress is not None:
            progress(1.0, f"found {len(cached.series)} series in {len(files)} files")
        return cached
    headers: dict[str, list[SliceHeader]] = {}
    metas: dict[str, dict[str, Any]] = {}
    skipped: list[tuple[Path, str]] = []
    refused_files: list[RefusedFile] = []
    values = HeaderValues()
    every = max(1, len(files) // 50)
    for n, path in enumerate(files):
        if progress is not None and n % every == 0:
            progress(n / max(1, len(files)), f"scanning {n}/{len(files)} files")
        try:
            ds, offset = read_header_at(path)
            if ds is None or sop_class_of(ds, values) == MEDIA_DIRECTORY:
                continue
            kind = header_kind(ds, values)
            if kind is not None:
                refused_files.append(_refused_file(ds, path, kind, values))
                continue
            hdr = _header(ds, path, offset, values)
            frames = [] if hdr is None else expand_frames(ds, hdr)
        except Exception as err:  # any parse failure of a file that claims to be DICOM
            skipped.append((path, f"{type(err).__name__}: {err}".splitlines()[0][:120]))
            continue
        if hdr is None:
            continue
        headers.setdefault(hdr.series_uid, []).extend(frames)
        if hdr.series_uid not in metas:
            metas[hdr.series_uid] = extract_meta(ds)
    if not headers and not refused_files:
        raise _no_image_error(folder, skipped)
    series, refused = _split_series(headers, metas, refused_files)
    if progress is not None:
        progress(1.0, f"found {len(series)} series in {len(files)} files")
    result = ScanResult(series, skipped, len(files), refused)
    with _CACHE_LOCK:
        _CACHE[signature] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def _no_image_error(folder: Path, skipped: list[tuple[Path, str]]) -> NoImageError:
    detail = (
        f" ({len(skipped)} unreadable DICOM file(s), e.g. {skipped[0][0].name})" if skipped else ""
    )
    images = [f for _, _, names in os.walk(folder) for f in names if itk_format(Path(f))]
    if images and not detail:
        detail = f"; it holds {images[0]}: open that file instead"
    return NoImageError(f"{folder}: no DICOM image found{detail}")


def _split_series(
    headers: dict[str, list[SliceHeader]],
    metas: dict[str, dict[str, Any]],
    refused_files: list[RefusedFile],
) -> tuple[list[SeriesInfo], list[SeriesInfo]]:
    """The CT volume series and the refused ones (whole non-CT objects and series whose
    frames do not make a CT volume), each sorted by series number."""
    series = [_series_info(uid, hs, metas[uid]) for uid, hs in headers.items()]
    refused = group_refused(refused_files)
    for info in series:
        info.refusal = series_kind(info)
    refused += [s for s in series if s.refusal]
    series = [s for s in series if not s.refusal]
    for group in (series, refused):
        group.sort(key=lambda s: (s.series_number is None, s.series_number or 0, s.uid))
    return series, refused


_CACHE: OrderedDict[tuple, ScanResult] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4
"""Recent scans, so that ``discover`` followed by ``read_volume`` parses each header once. The
key holds every file's path, size and mtime: any change to the folder means a fresh scan."""


def clear_scan_cache() -> None:
    """Forget recent scans (benchmarks; the cache already notices changed files)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _signature(folder: Path, recursive: bool, files: list[Path]) -> tuple:
    stats = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        stats.append((str(f), st.st_size, st.st_mtime_ns))
    return (str(folder.resolve()), recursive, tuple(stats))


def _refused_file(ds: pydicom.Dataset, path: Path, kind: str, v: HeaderValues) -> RefusedFile:
    return RefusedFile(
        path=path,
        kind=kind,
        series_uid=str(v.get(ds, "SeriesInstanceUID") or ""),
        rows=int(v.num(ds, "Rows", 0)),
        columns=int(v.num(ds, "Columns", 0)),
        meta=extract_meta(ds),
    )


def _series_info(uid: str, hs: list[SliceHeader], meta: dict[str, Any]) -> SeriesInfo:
    sizes: dict[tuple[int, int], int] = {}
    for h in hs:
        sizes[(h.rows, h.columns)] = sizes.get((h.rows, h.columns), 0) + 1
    rows, cols = max(sizes, key=lambda k: sizes[k])
    n = len(hs)
    number = meta.get("SeriesNumber")
    return SeriesInfo(
        uid=uid,
        description=str(meta.get("SeriesDescription", "")),
        n_slices=n,
        shape=(n, rows, cols),
        modality=str(meta.get("Modality", "")),
        files=list(dict.fromkeys(h.path for h in hs)),
        series_number=number if isinstance(number, int) else None,
        study_uid=str(meta.get("StudyInstanceUID", "")),
        meta=meta,
        slices=hs,
    )
