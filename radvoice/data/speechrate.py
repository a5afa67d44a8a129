"""Speech-RATE: one spoken-findings WAV per CT-RATE volume, ``<volume>_findings.wav``.

The WAVs may sit flat in a folder or mirror CT-RATE's nesting
(``train/train_1/train_1_a/train_1_a_1_findings.wav``); the index finds them at any depth.
"""

from __future__ import annotations

from pathlib import Path

from radvoice.errors import RadVoiceError

SUFFIXES: dict[str, str] = {"findings": "_findings.wav", "impressions": "_impressions.wav"}


class SpeechRateError(RadVoiceError):
    """A Speech-RATE folder that cannot be read."""


class SpeechRateIndex:
    """Volume stem -> spoken WAV paths, built once by scanning ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise SpeechRateError(f"Speech-RATE folder not found: {self.root}")
        self._paths: dict[str, dict[str, Path]] = {kind: {} for kind in SUFFIXES}
        for path in sorted(self.root.rglob("*.wav")):
            for kind, suffix in SUFFIXES.items():
                if path.name.endswith(suffix):
                    self._paths[kind].setdefault(path.name[: -len(suffix)], path)

    def __len__(self) -> int:
        return len(self._paths["findings"])

    def findings(self, volume: str) -> Path | None:
        """The spoken findings of ``volume`` (``train_1_a_1`` or its file name), or None."""
        return self._paths["findings"].get(_stem(volume))

    def impressions(self, volume: str) -> Path | None:
        return self._paths["impressions"].get(_stem(volume))

    def volumes(self) -> list[str]:
        return sorted(self._paths["findings"])


def _stem(name: str) -> str:
    base = Path(name).name
    for suffix in (".nii.gz", ".nii", ".wav"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base
