"""``read_volume``: one entry point for DICOM folders/files, NIfTI, NRRD and MetaImage."""

from __future__ import annotations

from pathlib import Path

from radvoice.imaging.errors import (
    CorruptFileError,
    EmptyInputError,
    MissingPathError,
    NotCTVolumeError,
    UnsupportedFormatError,
)
from radvoice.imaging.formats import ProgressCallback, itk_format
from radvoice.imaging.series import SeriesInfo
from radvoice.imaging.volume import Volume

DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")


def is_dicom_file(path: Path) -> bool:
    """True for a file with the DICOM preamble (``DICM`` at byte 128) or a DICOM suffix."""
    if path.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with path.open("rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def _check_path(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingPathError(f"{p}: no such file or folder")
    return p


def read_volume(
    path: str | Path,
    series_uid: str | None = None,
    progress: ProgressCallback | None = None,
    max_bytes: int | None = None,
) -> Volume:
    """Read a CT volume from a DICOM folder or file, NIfTI, NRRD or MHA/MHD.

    * A folder is searched recursively for DICOM series. With several series and no
      ``series_uid``, the largest image series is read and ``Volume.warnings`` says which one
      and lists the others (use :func:`discover` to choose).
    * A single DICOM file reads the series it belongs to (from its folder).
    * ``progress(fraction, message)`` is called while reading; an exception raised inside it
      aborts the read (this is how a GUI cancels).
    * The volume is refused with :class:`TooLargeError` before pixel data is read if it would
      need more than ``max_bytes`` or than the memory available.

    Unreadable input raises a subclass of :class:`ImageReadError` with a one-line reason.
    """
    p = _check_path(path)
    if p.is_dir() or p.name.upper() == "DICOMDIR":  # a DICOMDIR stands for its folder
        from radvoice.imaging.dicom_read import read_dicom_folder

        folder = p if p.is_dir() else p.parent
        return read_dicom_folder(
            folder, series_uid=series_uid, progress=progress, max_bytes=max_bytes
        )
    if p.stat().st_size == 0:
        raise EmptyInputError(f"{p.name}: the file is empty")
    if itk_format(p) is not None:
        from radvoice.imaging.itk_io import read_itk

        return read_itk(p, progress=progress, max_bytes=max_bytes)
    if is_dicom_file(p):
        from radvoice.imaging.dicom_read import read_dicom_file_series

        return read_dicom_file_series(
            p, series_uid=series_uid, progress=progress, max_bytes=max_bytes
        )
    raise UnsupportedFormatError(
        f"{p.name}: unsupported file type; expected a DICOM folder/file, .nii, .nii.gz, .nrrd, "
        ".nhdr, .mha or .mhd"
    )


def describe_file_series(path: Path) -> list[SeriesInfo]:
    """:func:`discover` for one file: its DICOM series, or a single entry for an image file."""
    from radvoice.imaging.dicom_discover import header_kind, read_header, scan_folder
    from radvoice.imaging.dicom_kind import refusal_message, refuse

    if path.stat().st_size == 0:
        raise EmptyInputError(f"{path.name}: the file is empty")
    fmt = itk_format(path)
    if fmt is not None:
        from radvoice.imaging.itk_io import read_itk_info

        return [read_itk_info(path)]
    if not is_dicom_file(path):
        raise UnsupportedFormatError(f"{path.name}: unsupported file type")
    try:
        ds = read_header(path)
    except Exception as err:
        raise CorruptFileError(
            f"{path.name}: not a readable DICOM file ({type(err).__name__})"
        ) from None
    if ds is None:
        raise CorruptFileError(f"{path.name}: not a DICOM file")
    kind = header_kind(ds)
    if kind is not None:
        raise NotCTVolumeError(refusal_message(path.name, kind))
    scan = scan_folder(path.parent, recursive=False)
    uid = str(ds.get("SeriesInstanceUID", ""))
    for info in scan.refused:
        if uid and info.uid == uid and path in info.files:
            raise refuse(info)
    return scan.series


def discover(path: str | Path) -> list[SeriesInfo]:
    """The series in a folder (searched recursively) or in one file.

    A DICOM file lists the series of its folder; a NIfTI/NRRD/MHA file gives one entry with
    an empty ``uid``. Raises :class:`ImageReadError` subclasses for unusable input.
    """
    from radvoice.imaging.dicom_discover import scan_folder  # pydicom only when needed

    p = Path(path).expanduser()
    if not p.exists():
        raise MissingPathError(f"{p}: no such file or folder")
    if p.is_dir():
        return scan_folder(p).series
    return describe_file_series(p)
