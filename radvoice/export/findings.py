"""The zero-shot answer to export: probabilities, thresholds and the algorithm's identity."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radvoice.labels import PATHOLOGIES

ALGORITHM_NAME = "RadVoice zero-shot CT findings"


def model_version(models_root: Path | None = None, model: str = "teacher") -> str:
    """``sha256:<hex>`` of the model's weights as registered in ``models/registry.json``."""
    from radvoice.nn.registry import models_dir

    root = Path(models_root) if models_root is not None else models_dir()
    registry = json.loads((root / "registry.json").read_text(encoding="utf-8"))
    digest = registry.get(f"{model}/model.safetensors")
    if not digest:
        from radvoice.export.errors import ExportError

        raise ExportError(f"{model}/model.safetensors is not registered in {root}/registry.json")
    return f"sha256:{digest}"


@dataclass
class FindingsReport:
    """One case's findings, ready for SR/JSON export."""

    probabilities: dict[str, float]
    thresholds: dict[str, float]
    algorithm_version: str
    algorithm_name: str = ALGORITHM_NAME
    query: dict[str, Any] | None = None
    volume: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [k for k in PATHOLOGIES if k not in self.probabilities or k not in self.thresholds]
        if missing:
            from radvoice.export.errors import ExportError

            raise ExportError(f"findings lack {len(missing)} pathologies, e.g. {missing[0]!r}")

    def present(self, label: str) -> bool:
        return self.probabilities[label] >= self.thresholds[label]

    @classmethod
    def from_classify(cls, result: dict[str, Any], models_root: Path | None = None) -> FindingsReport:
        """From :func:`radvoice.cli.classify.classify`'s JSON object."""
        return cls(
            probabilities={k: float(v) for k, v in result["probabilities"].items()},
            thresholds={k: float(v) for k, v in result["thresholds"].items()},
            algorithm_version=model_version(models_root),
            query=result.get("query"),
            volume=str(result.get("volume", "")),
        )

    def to_json(self) -> dict[str, Any]:
        order = sorted(PATHOLOGIES, key=lambda k: -self.probabilities[k])
        out: dict[str, Any] = {
            "algorithm": {"name": self.algorithm_name, "version": self.algorithm_version},
            "status": "preliminary, unverified (research model, not for clinical use)",
            "volume": self.volume,
            "findings": [
                {
                    "label": k,
                    "probability": round(self.probabilities[k], 6),
                    "threshold": round(self.thresholds[k], 6),
                    "present": self.present(k),
                }
                for k in order
            ],
        }
        if self.query:
            out["query"] = self.query
        out.update(self.extra)
        return out
