"""Read one DICOM series (chosen from a folder scan) into an int16 HU :class:`Volume`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.filereader import data_element_generator
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from radvoice.imaging.dicom_discover import (
    ProgressCallback,
    ScanResult,
    SeriesInfo,
    SliceHeader,
    header_kind,
    read_header,
    scan_folder,
)
from radvoice.imaging.dicom_geometry import compute_geometry, select_consistent, sort_slices
from radvoice.imaging.dicom_kind import refusal_message, refuse
from radvoice.imaging.errors import (
    CorruptFileError,
    NotCTVolumeError,
    SeriesNotFoundError,
    UnsupportedFormatError,
)
from radvoice.imaging.memory import check_fits, estimate_bytes
from radvoice.imaging.volume import Volume

_NATIVE_LE = frozenset({str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)})
PIXEL_DATA = Tag(0x7FE0, 0x0010)
_SCAN_SHARE = 0.5  # fraction of the progress bar spent scanning headers


def _sub(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    if progress is None:
        return None
    return lambda f, msg: progress(lo + (hi - lo) * f, msg)


def _syntax_name(uid: str) -> str:
    name = UID(uid).name
    return f"{name} ({uid})" if name != uid else uid


def check_decodable(slices: list[SliceHeader]) -> None:
    """Raise :class:`UnsupportedFormatError` for pixel data pydicom cannot decode here."""
    for ts in sorted({h.transfer_syntax for h in slices}):
        if ts in _NATIVE_LE:
            continue
        try:
            decoder = pydicom.pixels.get_decoder(ts)
            available = decoder.is_available
        except (NotImplementedError, ValueError):
            available = False
        if not available:
            raise UnsupportedFormatError(
                f"transfer syntax {_syntax_name(ts)} cannot be decoded: no pydicom pixel data "
                "handler is installed for it (e.g. pylibjpeg or gdcm); convert the series to "
                "uncompressed DICOM"
            )
    if any(h.samples != 1 for h in slices):
        raise UnsupportedFormatError("colour (RGB) DICOM images are not CT volumes")


def _native_pixels(h: SliceHeader) -> np.ndarray | None:
    """Stored values of one frame read straight from the file (uncompressed little-endian
    16-bit data, at the PixelData offset found by the header scan); None when that shortcut
    does not apply."""
    if (
        h.pixel_offset is None
        or h.transfer_syntax not in _NATIVE_LE
        or h.bits_allocated != 16
        or (h.signed and h.bits_stored != 16)
    ):
        return None
    implicit = h.transfer_syntax == str(ImplicitVRLittleEndian)
    n = h.rows * h.columns
    with h.path.open("rb") as fh:
        fh.seek(h.pixel_offset)
        elem = next(data_element_generator(fh, implicit, True, defer_size=256), None)
        if elem is None or elem.tag != PIXEL_DATA or elem.value_tell is None:
            return None
        start = 2 * n * (h.frame or 0)
        if elem.length < start + 2 * n:
            raise ValueError(f"pixel data holds {elem.length} bytes, {start + 2 * n} expected")
        fh.seek(elem.value_tell + start)
        data = fh.read(2 * n)
    if len(data) < 2 * n:
        raise ValueError(f"pixel data cut short: {len(data)} of {2 * n} bytes (truncated file)")
    raw = np.frombuffer(data, dtype="<i2" if h.signed else "<u2")
    if not h.signed and h.bits_stored < 16:
        raw = raw & np.uint16((1 << h.bits_stored) - 1)
    return raw.reshape(h.rows, h.columns)


def slice_pixels(h: SliceHeader, decoded: dict[Path, np.ndarray] | None = None) -> np.ndarray:
    """Stored values of one slice or frame (before rescale): a direct read when the data is
    plain, else pydicom's decoders. ``decoded`` keeps decoded multi-frame files by path."""
    raw = _native_pixels(h)
    if raw is not None:
        return raw
    if h.frame is None:
        return pydicom.pixels.pixel_array(h.path)
    decoded = {} if decoded is None else decoded
    if h.path not in decoded:
        decoded[h.path] = pydicom.pixels.pixel_array(h.path)
    return decoded[h.path][h.frame]


def _to_hu(raw: np.ndarray, slope: float, intercept: float, out: np.ndarray) -> None:
    """``raw * slope + intercept`` rounded and clipped into the int16 slice ``out``."""
    if slope == 1.0 and float(intercept).is_integer() and raw.dtype.kind in "iu" and raw.size:
        shift = int(intercept)
        rmin, rmax = int(raw.min()), int(raw.max())
        if rmin >= -32768 and rmax <= 32767 and rmin + shift >= -32768 and rmax + shift <= 32767:
            np.copyto(out, raw, casting="unsafe")  # exact: stored and HU values all fit int16
            if shift:
                out += np.int16(shift)
            return
        hu = raw.astype(np.int32) + shift
    else:
        hu = np.rint(raw.astype(np.float32) * np.float32(slope) + np.float32(intercept))
    np.clip(hu, -32768, 32767, out=hu)
    out[...] = hu


def read_series(
    info: SeriesInfo,
    progress: ProgressCallback | None = None,
    max_bytes: int | None = None,
    source: str = "",
) -> Volume:
    """Pixels of one series: sorted along the slice normal, rescaled to HU, checked."""
    warnings: list[str] = []
    slices = select_consistent(info.slices, warnings)
    check_decodable(slices)
    slices = sort_slices(slices, warnings)
    rows, cols = slices[0].rows, slices[0].columns
    n = len(slices)
    label = f"series '{info.description or info.uid}' ({cols}x{rows}x{n})"
    check_fits(estimate_bytes(rows * cols * n), label, max_bytes)

    array = np.empty((n, rows, cols), dtype=np.int16)
    ok = np.ones(n, dtype=bool)
    failures: list[str] = []
    decoded: dict[Path, np.ndarray] = {}  # compressed multi-frame files, decoded once
    every = max(1, n // 100)
    for k, h in enumerate(slices):
        if progress is not None and k % every == 0:
            progress(k / n, f"reading slice {k + 1}/{n}")
        try:
            _to_hu(slice_pixels(h, decoded), h.slope, h.intercept, array[k])
        except Exception as err:  # a broken slice is skipped, the rest of the series is kept
            ok[k] = False
            failures.append(
                f"{h.path.name}: {str(err).splitlines()[0][:100] if str(err) else type(err).__name__}"
            )
    decoded.clear()
    if not ok.any():
        raise CorruptFileError(f"no slice of the series could be read ({failures[0]})")
    if failures:
        warnings.append(f"{len(failures)} unreadable slice file(s) skipped (first: {failures[0]})")
        array = array[ok]
        slices = [h for h, keep in zip(slices, ok, strict=True) if keep]
    geometry = compute_geometry(slices, warnings)
    meta = dict(info.meta)
    if progress is not None:
        progress(1.0, f"read {len(slices)} slices")
    try:
        return Volume(
            array,
            spacing=geometry.spacing,
            origin=geometry.origin,
            direction=geometry.direction,
            modality=info.modality or "CT",
            meta=meta,
            warnings=warnings,
            source=source,
        )
    except ValueError as err:  # geometry no header check caught: still one line
        raise CorruptFileError(f"{label}: unusable geometry ({err})") from None


def choose_series(scan: ScanResult, series_uid: str | None, warnings: list[str]) -> SeriesInfo:
    """The requested series, or the largest one (with a warning naming the others)."""
    if series_uid is not None:
        for s in scan.series:
            if s.uid == series_uid:
                return s
        for s in scan.refused:
            if s.uid == series_uid:
                raise refuse(s)
        choices = ", ".join(f"{s.uid} ({s.n_slices} slices)" for s in scan.series)
        raise SeriesNotFoundError(f"series {series_uid} not found; the folder holds: {choices}")
    if len(scan.series) == 1:
        return scan.series[0]
    best = max(scan.series, key=lambda s: (s.n_slices, s.n_voxels))
    others = "; ".join(
        f"{s.uid} '{s.description}' ({s.n_slices} slices)" for s in scan.series if s is not best
    )
    warnings.append(
        f"{len(scan.series)} series in the folder: opened the largest, {best.uid} "
        f"'{best.description}' ({best.n_slices} slices); others: {others}"
    )
    return best


def read_from_scan(
    scan: ScanResult,
    where: Path,
    series_uid: str | None,
    progress: ProgressCallback | None,
    max_bytes: int | None,
) -> Volume:
    pre: list[str] = []
    info = choose_series(scan, series_uid, pre)
    if scan.skipped:
        path, reason = scan.skipped[0]
        pre.append(
            f"{len(scan.skipped)} unreadable DICOM file(s) ignored (first: {path.name}: {reason})"
        )
    volume = read_series(info, _sub(progress, _SCAN_SHARE, 1.0), max_bytes, source=str(where))
    volume.warnings[:0] = pre
    return volume


def read_dicom_folder(
    folder: Path,
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    max_bytes: int | None = None,
) -> Volume:
    """Scan ``folder`` recursively and read one series (see :func:`read_volume`)."""
    scan = scan_folder(folder, _sub(progress, 0.0, _SCAN_SHARE))
    return read_from_scan(scan, folder, series_uid, progress, max_bytes)


def read_dicom_file_series(
    path: Path,
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    max_bytes: int | None = None,
) -> Volume:
    """Read the series a single DICOM file belongs to, from the files beside it."""
    try:
        ds = read_header(path)
    except Exception as err:
        raise CorruptFileError(
            f"{path.name}: not a readable DICOM file ({type(err).__name__})"
        ) from None
    if ds is None:
        raise CorruptFileError(f"{path.name}: not a DICOM image file")
    kind = header_kind(ds)
    if kind is not None:
        raise NotCTVolumeError(refusal_message(path.name, kind))
    if "SeriesInstanceUID" not in ds:
        raise CorruptFileError(f"{path.name}: not a DICOM image file")
    scan = scan_folder(path.parent, _sub(progress, 0.0, _SCAN_SHARE), recursive=False)
    uid = series_uid or str(ds.SeriesInstanceUID)
    return read_from_scan(scan, path.parent, uid, progress, max_bytes)
