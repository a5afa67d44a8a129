"""What the library needs from the models: a :class:`Embedder` and its identity.

The product's embedder is :class:`radvoice.nn.pipeline.RadVoiceModels` (docs/CONTRACTS.md); the
library depends only on the method names below, so tests can pass their own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
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
    """Which models the stored embeddings depend on.

    An embedder may say so itself (``model_name``/``model_checksum``). For the shipped
    :class:`RadVoiceModels`, stored case embeddings come from the teacher alone (the speech
    student only maps queries into the teacher's space), so the identity is the teacher folder's
    name plus a SHA-256 over its entries in ``models/registry.json`` (each file's SHA-256).
    """
    name = getattr(embedder, "model_name", None)
    checksum = getattr(embedder, "model_checksum", None)
    if isinstance(name, str) and isinstance(checksum, str) and name and checksum:
        return ModelIdentity(name, checksum)
    teacher_dir = getattr(embedder, "teacher_dir", None)
    if teacher_dir is None:
        raise LibraryError(f"{type(embedder).__name__} does not say which models it uses")
    teacher_dir = Path(teacher_dir)
    entries = _registry_entries(teacher_dir)
    digest = hashlib.sha256("\n".join(f"{k}={v}" for k, v in entries).encode()).hexdigest()
    return ModelIdentity(teacher_dir.name, digest)


def _registry_entries(model_dir: Path) -> list[tuple[str, str]]:
    from radvoice.nn.registry import REGISTRY_NAME

    registry = model_dir.parent / REGISTRY_NAME
    try:
        table = json.loads(registry.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelsUnavailableError(f"cannot read {registry}: {err}") from None
    prefix = f"{model_dir.name}/"
    entries = sorted((str(k), str(v)) for k, v in table.items() if str(k).startswith(prefix))
    if not entries:
        raise ModelsUnavailableError(
            f"the trained models are not shipped yet: {registry} lists nothing under {prefix}"
        )
    return entries


def load_shipped_embedder() -> Embedder:
    """The trained models shipped in ``models/`` (weights load lazily, SHA-256 checked)."""
    try:
        from radvoice.nn.pipeline import RadVoiceModels
    except ImportError as err:
        raise ModelsUnavailableError(
            "the trained RadVoice models are not shipped yet (radvoice.nn.pipeline is missing: "
            f"{err}); the library needs them to embed cases and queries"
        ) from None
    models = RadVoiceModels()
    teacher_dir = Path(models.teacher_dir)
    if not teacher_dir.is_dir():
        raise ModelsUnavailableError(
            f"the trained models are not shipped yet ({teacher_dir} is missing); the library "
            "needs the teacher to embed cases and queries"
        )
    model_identity(models)  # the registry must list the teacher's files
    return models  # type: ignore[return-value]


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
