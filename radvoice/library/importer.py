"""Importing cases: volume files, DICOM folders and the CT-RATE layout, resumably.

Each case is committed on its own (see :mod:`radvoice.library.store`), so an interrupted import
keeps what it finished; running it again skips what is in (same source file with the same size
and time, same SeriesInstanceUID, or same voxel content).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES
from radvoice.library.embedder import Embedder
from radvoice.library.errors import LibraryError
from radvoice.library.library import CaseLibrary, content_hash

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
KEY_COLUMNS = ("VolumeName", "volume", "file", "path", "case_id", "SeriesInstanceUID")

ProgressFn = Callable[[int, int, str], None]


@dataclass
class ImportItem:
    """One case to import; ``load`` reads its volume (only when it is not in already)."""

    source: str
    key: str
    series_uid: str | None = None
    report: str = ""
    labels: list[int] | None = None
    load: Callable[[], Volume] | None = None
    path: Path | None = None
    refusal: str | None = None
    """Set for a DICOM series that is not a CT volume: the one-line reason; never loaded."""


@dataclass
class ImportSummary:
    added: list[int] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(source, reason) of the DICOM objects that are not CT volumes, left out."""


def volume_key(name: str) -> str:
    """``train_1_a_1.nii.gz`` -> ``train_1_a_1``: the name a reports CSV uses."""
    base = Path(name).name
    for suffix in VOLUME_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def _is_volume_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(VOLUME_SUFFIXES)


def _file_item(path: Path) -> ImportItem:
    from radvoice.imaging import read_volume

    path = path.resolve()
    return ImportItem(str(path), volume_key(path.name), load=lambda: read_volume(path), path=path)


def _dicom_items(folder: Path) -> list[ImportItem]:
    """The CT series under ``folder``, and one refused item per series that is not CT."""
    from radvoice.imaging import read_volume
    from radvoice.imaging.dicom_discover import scan_folder
    from radvoice.imaging.dicom_kind import series_refusal

    root = folder.resolve()
    scan = scan_folder(root, require_ct=False)
    items = []
    for info in scan.series:
        if not info.uid:
            continue
        uid = info.uid
        items.append(
            ImportItem(
                str(root), uid, series_uid=uid,
                load=lambda uid=uid, root=root: read_volume(root, series_uid=uid),
            )
        )  # fmt: skip
    for info in scan.refused:
        where = info.files[0] if len(info.files) == 1 else root
        items.append(ImportItem(str(where), info.uid, refusal=series_refusal(info)))
    return items


def _refused_file(path: Path) -> ImportItem | None:
    """A refused item when ``path`` is a DICOM file that is not a CT image, else None."""
    from radvoice.imaging.dicom_discover import header_kind, read_header
    from radvoice.imaging.dicom_kind import refusal_message

    try:
        ds = read_header(path)
    except Exception:  # noqa: BLE001 - unreadable: the reader says why when it is loaded
        return None
    kind = None if ds is None else header_kind(ds)
    if kind is None:
        return None
    return ImportItem(str(path.resolve()), path.name, refusal=refusal_message(path.name, kind))


def _ctrate_items(folder: Path) -> list[ImportItem] | None:
    """Cases of a CT-RATE download (volumes with report, labels and metadata), else None."""
    try:
        from radvoice.data.ctrate import (
            CTRateDataset,
            CTRateError,
            CTRateLayout,
            read_ctrate_volume,
        )
    except ImportError:
        return None
    try:
        CTRateLayout.discover(folder)
    except CTRateError:
        return None
    items: list[ImportItem] = []
    for split in ("train", "valid"):
        try:
            ds = CTRateDataset(folder, split, load_volumes=False)
        except CTRateError:
            continue
        for name in ds.names():
            rec = ds.record(name)
            items.append(
                ImportItem(
                    str(Path(rec.volume_path or name).resolve()), name, report=rec.report,
                    labels=[int(v) for v in rec.labels],
                    load=lambda p=rec.volume_path, m=ds.metadata[name]: read_ctrate_volume(p, m),
                    path=rec.volume_path,
                )
            )  # fmt: skip
    return items or None


def collect_items(paths: Iterable[str | Path]) -> list[ImportItem]:
    """Every case under the given files and folders (missing paths are an error)."""
    items: list[ImportItem] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise LibraryError(f"{path}: no such file or folder")
        if path.is_file():
            refused = None if _is_volume_file(path) else _refused_file(path)
            if _is_volume_file(path):
                items.append(_file_item(path))
            elif refused is not None:
                items.append(refused)
            else:
                found = _dicom_items(path.parent)
                items.extend(found or [_file_item(path)])
            continue
        ctrate = _ctrate_items(path)
        if ctrate is not None:
            items.extend(ctrate)
            continue
        files = sorted(p for p in path.rglob("*") if _is_volume_file(p))
        items.extend(_file_item(p) for p in files)
        try:
            items.extend(_dicom_items(path))
        except RadVoiceError:
            if not files:
                raise
    return items


def read_reports_csv(path: str | Path) -> dict[str, tuple[str, list[int] | None]]:
    """Key -> (report, labels or None) from a CSV.

    The key column is one of :data:`KEY_COLUMNS`; the text is ``report`` or CT-RATE's
    ``Findings_EN`` + ``Impressions_EN`` (or ``findings`` + ``impression``); labels are read when
    all 18 pathology columns are present (CT-RATE's labels CSV works too).
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise LibraryError(f"cannot read the reports CSV {path}: {err}") from None
    key_col = next((c for c in KEY_COLUMNS if c in columns), None)
    if key_col is None:
        raise LibraryError(f"{path} has none of the key columns {', '.join(KEY_COLUMNS)}")
    text_cols = next(
        (
            cols
            for cols in (("report",), ("Findings_EN", "Impressions_EN"), ("findings", "impression"))
            if all(c in columns for c in cols)
        ),
        (),
    )
    has_labels = all(p in columns for p in PATHOLOGIES)
    if not text_cols and not has_labels:
        raise LibraryError(f"{path} has neither report text nor the 18 label columns")
    out: dict[str, tuple[str, list[int] | None]] = {}
    for line, row in enumerate(rows, start=2):
        text = " ".join((row.get(c) or "").strip() for c in text_cols).strip()
        labels = None
        if has_labels:
            try:
                labels = [int(float(row[p] or 0)) for p in PATHOLOGIES]
            except ValueError:
                raise LibraryError(f"{path}:{line}: a label is not 0 or 1") from None
        key = (row.get(key_col) or "").strip()
        if key:
            out[volume_key(key) if key_col != "SeriesInstanceUID" else key] = (text, labels)
    return out


def attach_reports(items: list[ImportItem], table: dict[str, tuple[str, list[int] | None]]) -> int:
    """Give items their report/labels from a CSV table; returns how many matched."""
    matched = 0
    for item in items:
        entry = table.get(item.key) or (table.get(item.series_uid) if item.series_uid else None)
        if entry is None:
            continue
        matched += 1
        text, labels = entry
        item.report = text or item.report
        item.labels = labels if labels is not None else item.labels
    return matched


def import_items(
    library: CaseLibrary,
    embedder: Embedder,
    items: list[ImportItem],
    progress: ProgressFn | None = None,
) -> ImportSummary:
    """Import each item in its own transaction; failures are collected, not raised."""
    summary = ImportSummary()
    store = library.store
    for n, item in enumerate(items):
        if progress is not None:
            progress(n, len(items), item.key)
        if item.refusal is not None:
            summary.refused.append((item.source, item.refusal))
            continue
        size = mtime = None
        if item.path is not None and item.path.is_file():
            st = item.path.stat()
            size, mtime = st.st_size, st.st_mtime
        if (item.series_uid and store.find_series(item.series_uid) is not None) or (
            size is not None and store.find_source(item.source, size, mtime) is not None
        ):
            summary.skipped += 1
            continue
        try:
            if item.load is None:
                raise LibraryError("no reader for this input")
            volume = item.load()
            if item.series_uid and not volume.meta.get("SeriesInstanceUID"):
                volume.meta["SeriesInstanceUID"] = item.series_uid
            case_id, added = library.add_volume(
                volume, embedder, source=item.source, report=item.report, labels=item.labels,
                source_size=size, source_mtime=mtime, digest=content_hash(volume),
            )  # fmt: skip
        except RadVoiceError as err:
            summary.failed.append((item.source, str(err)))
            continue
        if added:
            summary.added.append(case_id)
        else:
            summary.skipped += 1
    if progress is not None:
        progress(len(items), len(items), "")
    return summary
