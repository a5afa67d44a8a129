"""Detect truncated NIfTI files, which ITK's NIfTI reader silently pads with zeros."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

from radvoice.imaging.errors import CorruptFileError

_CHUNK = 1 << 20


def _expected_size(header: bytes) -> int | None:
    """Header + voxel bytes declared by a NIfTI-1/-2 header, or None if it is not one."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            offset = int(struct.unpack(endian + "f", header[108:112])[0])
        elif len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            offset = struct.unpack(endian + "q", header[168:176])[0]
        else:
            continue
        ndim = dims[0]
        if not 1 <= ndim <= 7 or bitpix <= 0:
            return None
        n = 1
        for d in dims[1 : ndim + 1]:
            n *= max(int(d), 1)
        return max(offset, 348) + n * bitpix // 8
    return None


def _gzip_length(path: Path) -> int:
    """Decompressed length of a gzip file; raises CorruptFileError if the stream is cut."""
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                total += len(chunk)
    except EOFError:  # the stream ends before its end marker
        raise CorruptFileError(
            f"{path.name}: truncated file (the gzip stream ends early)"
        ) from None
    return total


def check_nifti_complete(path: Path) -> None:
    """Raise :class:`CorruptFileError` if a ``.nii``/``.nii.gz`` holds fewer bytes than declared."""
    gz = path.name.lower().endswith(".gz")
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                header = fh.read(540)
        else:
            with path.open("rb") as fh:
                header = fh.read(540)
    except (OSError, EOFError, zlib.error) as err:
        raise CorruptFileError(f"{path.name}: cannot be read as NIfTI ({err})") from None
    expected = _expected_size(header)
    if expected is None:
        return  # not a NIfTI header: SimpleITK will report it
    if not gz:
        actual = path.stat().st_size
    else:
        with path.open("rb") as fh:
            fh.seek(-4, 2)
            trailer = struct.unpack("<I", fh.read(4))[0]
        if trailer == expected % 2**32:
            return  # the gzip trailer matches: complete single-member stream
        try:
            actual = _gzip_length(path)
        except (OSError, zlib.error) as err:  # BadGzipFile, CRC errors
            raise CorruptFileError(f"{path.name}: corrupt gzip data ({err})") from None
    if actual < expected:
        raise CorruptFileError(
            f"{path.name}: truncated NIfTI ({actual} of {expected} bytes present)"
        )
