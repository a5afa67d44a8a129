"""Which models the assistant uses: the shipped :class:`RadVoiceModels`, or nothing yet.

The assistant depends only on the method names of docs/CONTRACTS.md (:class:`AssistantModels`);
tests inject their own object with the same methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radvoice.nn.contract import EmbeddingModels

AssistantModels = EmbeddingModels
"""``RadVoiceModels``' contract (docs/CONTRACTS.md)."""


@dataclass(frozen=True)
class ModelsMissing:
    """No trained models are installed; ``reason`` says which folder is missing."""

    reason: str


def load_default_models(root: Path | str | None = None) -> AssistantModels | ModelsMissing:
    """The shipped models (weights load lazily, SHA-256 checked), or why there are none.

    The teacher is required (findings, typed questions, the library); without the speech
    student only spoken input fails, with its own message at key release. Only folders are
    checked here: the weights load on the worker thread.
    """
    try:
        from radvoice.nn.pipeline import RadVoiceModels
    except ImportError as err:  # pragma: no cover - only while the pipeline is incomplete
        return ModelsMissing(f"the model code is unavailable ({err})")
    models = RadVoiceModels(root=root)
    teacher = Path(models.teacher_dir)
    if not teacher.is_dir():
        return ModelsMissing(
            f"the trained models are not installed ({teacher.parent.name}/{teacher.name} missing)"
        )
    return models  # type: ignore[return-value]
