"""The one record type that training reads, from the synthetic corpus and from CT-RATE alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGIES


def report_text(findings: str, impression: str) -> str:
    """Findings and impression as one text (CT-CLIP's training text)."""
    return " ".join(t for t in (findings.strip(), impression.strip()) if t)


@dataclass
class CaseRecord:
    """One CT case with its report, its 18 labels and (optionally) its spoken report.

    ``labels`` is an int8 array in :data:`radvoice.labels.PATHOLOGIES` order (1 = present).
    ``volume`` is None when the dataset was asked not to load voxels (``volume_path`` then says
    where they are). ``audio_path`` is the spoken findings (Speech-RATE or synthetic), or None.
    """

    case_id: str
    findings: str
    impression: str
    labels: np.ndarray
    volume: Volume | None = None
    volume_path: Path | None = None
    audio_path: Path | None = None
    split: str = "train"
    source: str = "synthetic"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels).astype(np.int8).reshape(-1)
        if labels.size != NUM_PATHOLOGIES:
            raise ValueError(f"a CaseRecord needs {NUM_PATHOLOGIES} labels, got {labels.size}")
        self.labels = labels

    @property
    def report(self) -> str:
        """Findings and impression as one text (CT-CLIP's training text)."""
        return report_text(self.findings, self.impression)

    @property
    def positive(self) -> list[str]:
        """Names of the findings present."""
        return [name for name, v in zip(PATHOLOGIES, self.labels, strict=True) if v]
