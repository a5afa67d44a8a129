"""Training configuration: a JSON file with ``model``, ``train`` and ``data`` sections."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from radvoice.errors import RadVoiceError


class ConfigError(RadVoiceError):
    """A training config that cannot be read or has unknown/invalid fields."""


@dataclass
class TrainSettings:
    """Optimisation and bookkeeping."""

    batch_size: int = 16
    lr: float = 3e-4
    text_lr: float = 1e-4  # fine-tuned text layers (projection uses ``lr``)
    weight_decay: float = 0.05
    max_steps: int = 1000
    warmup_steps: int = 50
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 10
    eval_every: int = 200
    checkpoint_every: int = 100
    num_threads: int = 0  # torch.set_num_threads; 0 leaves the default
    amp: bool = True  # mixed precision (bf16) on GPU only
    augment_shift: int = 4  # random translation in grid voxels (0 disables)
    max_minutes: float = 0.0  # stop (checkpoint + export) after this wall time; 0: no limit


@dataclass
class DataSettings:
    """Where the cases come from and how they are split."""

    val_fraction: float = 0.1
    max_cases: int = 0  # 0: all
    synthetic_cases: int = 0  # on-the-fly generate_case seeds when --data is "synthetic"
    synthetic_seed: int = 0
    cache_grid: bool = True  # cache resampled grid volumes next to the data
    workers: int = 1  # processes generating synthetic cases before training (grid cache on)
    # student: engines whose training utterances are left out; their spoken prompts become an
    # engine-level development set (``zs_dev_engine``)
    dev_engines: list[str] = field(default_factory=list)


def _build(cls: type, d: dict[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ConfigError(f"unknown {where} field(s): {', '.join(sorted(unknown))}")
    return cls(**d)


@dataclass
class RunConfig:
    """A whole run: ``model`` is the model's dims dict (teacher: :class:`ClipDims`)."""

    name: str = "run"
    kind: str = "teacher"
    model: dict[str, Any] = field(default_factory=dict)
    train: TrainSettings = field(default_factory=TrainSettings)
    data: DataSettings = field(default_factory=DataSettings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "train": asdict(self.train),
            "data": asdict(self.data),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        unknown = set(d) - {"name", "kind", "model", "train", "data", "comment"}
        if unknown:
            raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
        try:
            return cls(
                name=str(d.get("name", "run")),
                kind=str(d.get("kind", "teacher")),
                model=dict(d.get("model", {})),
                train=_build(TrainSettings, dict(d.get("train", {})), "train"),
                data=_build(DataSettings, dict(d.get("data", {})), "data"),
            )
        except TypeError as err:
            raise ConfigError(f"invalid config: {err}") from None


def load_config(path: str | Path) -> RunConfig:
    """Read a config file; a bare name like ``teacher_tiny`` means ``radvoice/configs/<name>.json``."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and "/" not in str(path):
        bundled = resources.files("radvoice") / "configs" / f"{path}.json"
        if bundled.is_file():
            p = Path(str(bundled))
    if not p.is_file():
        raise ConfigError(f"config not found: {path}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read config {p}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config {p} must be a JSON object")
    return RunConfig.from_dict(data)
