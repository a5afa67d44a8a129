"""File formats by suffix, and the progress callback type (no heavy imports here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

ProgressCallback = Callable[[float, str], None]

ITK_SUFFIXES: dict[str, str] = {
    ".nii.gz": "NIfTI",
    ".nii": "NIfTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD",
    ".mha": "MetaImage",
    ".mhd": "MetaImage",
}


def itk_format(path: Path) -> str | None:
    """The format name for a path's suffix (``'NIfTI'``, ``'NRRD'``, ``'MetaImage'``) or None."""
    name = path.name.lower()
    for suffix, fmt in ITK_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None
