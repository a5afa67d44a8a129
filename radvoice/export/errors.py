from radvoice.errors import RadVoiceError


class ExportError(RadVoiceError):
    """Results cannot be exported (no DICOM source, mismatched grid, unwritable folder)."""
