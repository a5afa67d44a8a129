"""Reading CT volumes (DICOM, NIfTI, NRRD, MHA/MHD) into :class:`Volume`. No Qt here."""

from radvoice.imaging.errors import (
    CorruptFileError,
    EmptyInputError,
    ImageReadError,
    MissingPathError,
    NoImageError,
    NotCTVolumeError,
    SeriesNotFoundError,
    TooLargeError,
    UnsupportedFormatError,
)
from radvoice.imaging.orientation import orientation_code
from radvoice.imaging.reader import discover, read_volume
from radvoice.imaging.sample import sample_case_path
from radvoice.imaging.series import SeriesInfo
from radvoice.imaging.volume import Volume

__all__ = [
    "CorruptFileError",
    "EmptyInputError",
    "ImageReadError",
    "MissingPathError",
    "NoImageError",
    "NotCTVolumeError",
    "SeriesInfo",
    "SeriesNotFoundError",
    "TooLargeError",
    "UnsupportedFormatError",
    "Volume",
    "discover",
    "orientation_code",
    "read_volume",
    "sample_case_path",
    "write_dicom_series",
    "write_volume",
]


def __getattr__(name: str):  # pydicom is imported only when DICOM is used
    if name == "write_volume":  # SimpleITK is imported only when an image file is used
        from radvoice.imaging.itk_io import write_volume

        return write_volume
    if name == "write_dicom_series":
        from radvoice.imaging.dicom_write import write_dicom_series

        return write_dicom_series
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
