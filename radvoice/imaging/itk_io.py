"""NIfTI, NRRD and MetaImage (MHA/MHD) reading and writing through SimpleITK.

SimpleITK reports origin and direction in LPS for every format (it converts NIfTI's RAS
itself), and its array order is ``(z, y, x)``, so a :class:`Volume` is a direct copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radvoice.imaging.errors import CorruptFileError, ImageReadError, UnsupportedFormatError
from radvoice.imaging.formats import ProgressCallback, itk_format
from radvoice.imaging.memory import check_fits, estimate_bytes
from radvoice.imaging.nifti_check import check_nifti_complete
from radvoice.imaging.series import SeriesInfo
from radvoice.imaging.volume import Volume

WRITE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
_ITEMSIZE = {
    sitk.sitkUInt8: 1,
    sitk.sitkInt8: 1,
    sitk.sitkUInt16: 2,
    sitk.sitkInt16: 2,
    sitk.sitkUInt32: 4,
    sitk.sitkInt32: 4,
    sitk.sitkFloat32: 4,
}


def _itk_reason(err: Exception) -> str:
    """The useful sentence of a multi-line ITK exception."""
    text = str(err)
    for marker in ("ITK ERROR:", "Description:"):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    text = re.sub(r"^\s*\w+\(0x[0-9a-f]+\):\s*", "", text.strip())
    text = re.sub(r"\s*Reason: .*$", "", text.strip(), flags=re.S)
    line = " ".join(text.split())
    if len(line) > 160:
        line = line[:160].rsplit(" ", 1)[0] + " ..."
    return line.rstrip(" [") or "unreadable"


def _fail(path: Path, fmt: str, err: Exception) -> ImageReadError:
    return CorruptFileError(f"{path.name}: cannot be read as {fmt} ({_itk_reason(err)})")


def read_itk(
    path: Path, progress: ProgressCallback | None = None, max_bytes: int | None = None
) -> Volume:
    """Read a NIfTI/NRRD/MHA/MHD file as an int16 :class:`Volume` (LPS geometry kept)."""
    fmt = itk_format(path) or "image"
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise _fail(path, fmt, err) from None
    if fmt == "NIfTI":
        check_nifti_complete(path)
    dim = reader.GetDimension()
    if reader.GetNumberOfComponents() != 1:
        raise UnsupportedFormatError(
            f"{path.name}: has {reader.GetNumberOfComponents()} components per voxel; "
            "a grey-level CT volume is expected"
        )
    size = reader.GetSize()
    if dim not in (2, 3) and not (dim == 4 and size[3] == 1):
        raise UnsupportedFormatError(
            f"{path.name}: is a {dim}-D image; a 3-D CT volume is expected"
        )
    n_voxels = int(np.prod(size[:3]))
    itemsize = _ITEMSIZE.get(reader.GetPixelID(), 8)
    check_fits(
        estimate_bytes(n_voxels, itemsize), f"{path.name} ({'x'.join(map(str, size))})", max_bytes
    )

    if progress is not None:
        progress(0.0, f"reading {path.name}")
        reader.AddCommand(
            sitk.sitkProgressEvent,
            lambda: progress(min(0.95, reader.GetProgress()), f"reading {path.name}"),
        )
    try:
        image = reader.Execute()
    except RuntimeError as err:
        raise _fail(path, fmt, err) from None
    if dim == 4:
        image = image[:, :, :, 0]
    volume = volume_from_image(image, source=str(path))
    volume.meta.setdefault("SourceFormat", fmt)
    if progress is not None:
        progress(1.0, f"read {path.name}")
    return volume


def read_itk_info(path: Path) -> SeriesInfo:
    """One :class:`SeriesInfo` (empty ``uid``) for an image file, from its header only."""
    fmt = itk_format(path) or "image"
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise _fail(path, fmt, err) from None
    size = (*tuple(reader.GetSize()), 1, 1)
    nx, ny, nz = size[:3]
    return SeriesInfo(
        uid="",
        description=path.name,
        n_slices=nz,
        shape=(nz, ny, nx),
        modality="",
        files=[path],
        meta={"SourceFormat": fmt},
    )


def _to_int16(arr: np.ndarray, warnings: list[str]) -> np.ndarray:
    if arr.dtype == np.int16:
        return np.array(arr, copy=True)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.rint(arr)
    lo, hi = (arr.min(), arr.max()) if arr.size else (0, 0)
    if lo < -32768 or hi > 32767:
        warnings.append(f"values {lo:g}..{hi:g} clipped to the int16 range")
        arr = np.clip(arr, -32768, 32767)
    return arr.astype(np.int16)


def volume_from_image(image: sitk.Image, source: str = "") -> Volume:
    """A SimpleITK 2-D or 3-D scalar image -> :class:`Volume` (2-D becomes one slice)."""
    warnings: list[str] = []
    arr = _to_int16(sitk.GetArrayViewFromImage(image), warnings)
    if image.GetDimension() == 2:
        sx, sy = image.GetSpacing()
        ox, oy = image.GetOrigin()
        d2 = np.asarray(image.GetDirection()).reshape(2, 2)
        direction = np.eye(3)
        direction[:2, :2] = d2
        return Volume(
            arr[None], (sx, sy, 1.0), (ox, oy, 0.0), direction, warnings=warnings, source=source
        )
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    return Volume(
        arr,
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=direction,
        warnings=warnings,
        source=source,
    )


def image_from_volume(volume: Volume) -> sitk.Image:
    """:class:`Volume` -> SimpleITK image with the same geometry (int16)."""
    image = sitk.GetImageFromArray(volume.array)
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(float(v) for v in np.asarray(volume.direction).ravel()))
    return image


def write_volume(volume: Volume, path: str | Path) -> Path:
    """Write a :class:`Volume` as ``.nii.gz``/``.nii``/``.nrrd``/``.mha`` (compressed where possible)."""
    path = Path(path)
    if not path.name.lower().endswith(WRITE_SUFFIXES):
        raise UnsupportedFormatError(
            f"{path.name}: cannot write this format; use one of {', '.join(WRITE_SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        sitk.WriteImage(image_from_volume(volume), str(path), useCompression=True)
    except RuntimeError as err:
        raise ImageReadError(f"{path.name}: cannot be written ({_itk_reason(err)})") from None
    return path


def write_map(values: np.ndarray, like: Volume, path: str | Path) -> Path:
    """Write a float32 map (a heat map, a probability) on ``like``'s voxels and geometry."""
    arr = np.asarray(values, dtype=np.float32)
    if arr.shape != like.array.shape:
        raise ValueError(f"map shape {arr.shape} is not the volume's {like.array.shape}")
    path = Path(path)
    if not path.name.lower().endswith(WRITE_SUFFIXES):
        raise UnsupportedFormatError(
            f"{path.name}: cannot write this format; use one of {', '.join(WRITE_SUFFIXES)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing(like.spacing)
    image.SetOrigin(like.origin)
    image.SetDirection(tuple(float(v) for v in np.asarray(like.direction).ravel()))
    try:
        sitk.WriteImage(image, str(path), useCompression=True)
    except RuntimeError as err:
        raise ImageReadError(f"{path.name}: cannot be written ({_itk_reason(err)})") from None
    return path
