"""Errors of the case library: one-line messages a user can act on."""

from radvoice.errors import RadVoiceError


class LibraryError(RadVoiceError):
    """The library cannot do what was asked (bad folder, unknown case, bad input)."""


class ModelsUnavailableError(LibraryError):
    """The shipped embedding models are not there (yet)."""


class ModelMismatchError(LibraryError):
    """The library's embeddings were made by other models than the ones loaded."""
