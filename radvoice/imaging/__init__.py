"""Reading CT volumes (DICOM, NIfTI, NRRD, MHA/MHD) into :class:`Volume`. No Qt here."""

from radvoice.imaging.errors import ImageReadError
from radvoice.imaging.volume import Volume

__all__ = ["ImageReadError", "Volume"]
