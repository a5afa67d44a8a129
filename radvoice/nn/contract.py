"""The models' contract (docs/CONTRACTS.md), without importing torch.

The app's assistant and the library depend only on these method names;
:class:`radvoice.nn.pipeline.RadVoiceModels` is the product's implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from radvoice.imaging.volume import Volume


@runtime_checkable
class EmbeddingModels(Protocol):
    """Volumes, texts and 16 kHz audio into one L2-normalised 512-d space, plus zero-shot."""

    def embed_volume(self, volume: Volume) -> np.ndarray: ...
    def embed_text(self, text: str) -> np.ndarray: ...
    def embed_audio(self, audio: np.ndarray) -> np.ndarray: ...
    def zero_shot(self, volume_embedding: np.ndarray) -> dict[str, float]: ...
    @property
    def thresholds(self) -> dict[str, float]: ...
    def match_query(self, query_embedding: np.ndarray) -> tuple[str, float]: ...
    def query_scores(self, query_embedding: np.ndarray) -> dict[str, float]: ...
