"""The case library: prior cases in SQLite (WAL) with faiss indexes, searchable by voice, text
or image. No Qt here."""

from radvoice.library.embedder import Embedder, ModelIdentity, load_shipped_embedder
from radvoice.library.errors import LibraryError, ModelMismatchError, ModelsUnavailableError
from radvoice.library.library import CaseLibrary, SearchHit, content_hash
from radvoice.library.paths import ENV_VAR, default_library_dir, resolve_library_dir
from radvoice.library.store import CaseInfo, CaseStore

__all__ = [
    "ENV_VAR",
    "CaseInfo",
    "CaseLibrary",
    "CaseStore",
    "Embedder",
    "LibraryError",
    "ModelIdentity",
    "ModelMismatchError",
    "ModelsUnavailableError",
    "SearchHit",
    "content_hash",
    "default_library_dir",
    "load_shipped_embedder",
    "resolve_library_dir",
]
