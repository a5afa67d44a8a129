"""Typed errors for unreadable input: one line of text a user can act on."""

from radvoice.errors import RadVoiceError


class ImageReadError(RadVoiceError):
    """Base class: the input cannot be read as a CT volume. ``str(err)`` is a one-line reason."""


class EmptyInputError(ImageReadError):
    """The folder or file holds no image data."""


class CorruptFileError(ImageReadError):
    """A file exists but its content cannot be parsed."""


class UnsupportedFormatError(ImageReadError):
    """Unknown file type or an unsupported DICOM transfer syntax."""


class TooLargeError(ImageReadError):
    """The volume would not fit in the memory available."""


class MissingPathError(ImageReadError):
    """The path does not exist."""


class NoImageError(EmptyInputError):
    """A folder holds files, but none of them is an image this reader understands."""


class SeriesNotFoundError(ImageReadError):
    """The requested DICOM series is not in the folder."""


class NotCTVolumeError(ImageReadError):
    """A readable DICOM object that is not a CT volume (a radiograph, MR, report, ...); the
    message names what it is (see :mod:`radvoice.imaging.dicom_kind`)."""
