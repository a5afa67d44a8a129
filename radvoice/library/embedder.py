"""What the library needs from the models: a :class:`Embedder` and its identity.

The product's embedder is :class:`radvoice.nn.pipeline.RadVoiceModels` (docs/CONTRACTS.md); the
library depends only on the method names below, so tests can pass their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from radvoice.library.errors import LibraryError, ModelsUnavailableError

if TYPE_CHECKING:
    from radvoice.imaging.volume import Volume

EMBED_DIM = 512


@runtime_checkable
class Embedder(Protocol):
    """Maps volumes, texts and 16 kHz audio into one L2-normalised 512-d space."""

    def embed_volume(self, volume: Volume) -> np.ndarray: ...

    def embed_text(self, text: str) -> np.ndarray: ...

    def embed_audio(self, audio: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelIdentity:
    """Which models made an embedding: a name and a checksum of the weights."""

    name: str
    checksum: str

    def short(self) -> str:
        return f"{self.name} ({self.checksum[:12]})"


def model_identity(embedder: object) -> ModelIdentity:
    """The embedder's ``model_name``/``model_checksum`` (or ``name``/``checksum``).

    Without them, the SHA-256 of ``models/registry.json`` (which lists every weight file's
    SHA-256) identifies the shipped models.
    """
    name = getattr(embedder, "model_name", None) or getattr(embedder, "name", None)
    checksum = getattr(embedder, "model_checksum", None) or getattr(embedder, "checksum", None)
    if isinstance(name, str) and isinstance(checksum, str) and name and checksum:
        return ModelIdentity(name, checksum)
    from radvoice.nn.registry import REGISTRY_NAME, models_dir

    registry = models_dir() / REGISTRY_NAME
    if not registry.is_file():
        raise ModelsUnavailableError(f"cannot identify the models: {registry} is missing")
    digest = hashlib.sha256(registry.read_bytes()).hexdigest()
    return ModelIdentity(
        name if isinstance(name, str) and name else type(embedder).__name__, digest
    )


def load_shipped_embedder() -> Embedder:
    """The trained models shipped in ``models/`` (loaded lazily by the pipeline)."""
    try:
        from radvoice.nn.pipeline import RadVoiceModels
    except ImportError as err:
        raise ModelsUnavailableError(
            "the trained RadVoice models are not shipped yet (radvoice.nn.pipeline is missing: "
            f"{err}); the library needs them to embed cases and queries"
        ) from None
    try:
        return RadVoiceModels()  # type: ignore[return-value]
    except LibraryError:
        raise
    except (OSError, ValueError, RuntimeError) as err:
        raise ModelsUnavailableError(f"cannot load the shipped models: {err}") from None


def as_embedding(vector: object, what: str) -> np.ndarray:
    """A validated float32 ``(512,)`` unit vector (re-normalised if slightly off)."""
    if hasattr(vector, "detach"):  # a torch tensor
        vector = vector.detach().cpu().numpy()  # type: ignore[attr-defined]
    arr = np.asarray(vector, dtype=np.float32)
    arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[0] == 1 else arr
    if arr.shape != (EMBED_DIM,):
        raise LibraryError(f"{what} embedding has shape {arr.shape}, expected ({EMBED_DIM},)")
    norm = float(np.linalg.norm(arr))
    if not np.isfinite(arr).all() or norm < 1e-6:
        raise LibraryError(f"{what} embedding is not finite or is zero")
    return np.ascontiguousarray(arr / norm, dtype=np.float32)
