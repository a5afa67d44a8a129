"""User-facing PACS errors (one-line messages; the CLI exits 2, the app shows them)."""

from radvoice.errors import RadVoiceError


class PacsError(RadVoiceError):
    """Any PACS problem: configuration, network, query, retrieval or store."""


class NodeConfigError(PacsError):
    """A node is unknown or its settings are incomplete."""


class PacsConnectionError(PacsError):
    """The PACS cannot be reached (down, wrong port, timeout)."""


class PacsRejectedError(PacsError):
    """The PACS refused the association (unknown AE title, not allowed)."""


class PacsQueryError(PacsError):
    """A C-FIND / QIDO query failed."""


class RetrieveError(PacsError):
    """A retrieval failed or was cut off; nothing was kept in the cache."""


class RetrieveCancelled(RetrieveError):
    """The user cancelled a retrieval; nothing was kept in the cache."""


class NotCTError(PacsError):
    """The chosen series is not a CT image series."""


class SeriesTooLargeError(PacsError):
    """The series has more instances than the configured limit."""


class StoreError(PacsError):
    """A C-STORE / STOW-RS failed."""
