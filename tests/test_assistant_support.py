"""Test doubles for the assistant tests (tests only; the product uses the shipped models).

:class:`FakeModels` has ``RadVoiceModels``' methods: texts embed as hashed bags of words, volumes
through a fixed projection, zero-shot probabilities are a fixed function of the CT embedding,
and ``match_query`` compares with "is there {p}?" prototypes. Audio made by :meth:`speak` embeds
as the text it stands for (looked up by content), so a "spoken" query can be simulated.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES

DIM = 512
SAMPLE_RATE = 16000
REPORTS = [
    "Right pleural effusion with adjacent compressive atelectasis in the lower lobe.",
    "Centrilobular emphysema in both upper lobes without a pulmonary nodule.",
    "Cardiomegaly with a small pericardial effusion and coronary artery wall calcification.",
    "A spiculated lung nodule in the left lower lobe measuring twelve millimetres.",
    "Cylindrical bronchiectasis and peribronchial thickening in the middle lobe.",
    "Hiatal hernia and mild lymphadenopathy in the mediastinum.",
]


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _word(word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM)


def _key(audio: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(audio, dtype=np.float32).tobytes()).hexdigest()


class FakeModels:
    """Deterministic stand-in for RadVoiceModels (tests only)."""

    model_name = "fake-teacher"
    model_checksum = "f" * 64

    def __init__(self, student_dir: Path | None = None) -> None:
        self._proj = np.random.default_rng(3).standard_normal((DIM, DIM)).astype(np.float32)
        self._spoken: dict[str, str] = {}
        self.volume_calls = 0
        if student_dir is not None:
            self.student_dir = student_dir
            self.device = "cpu"
        self._protos = np.stack([self.embed_text(f"is there {p.lower()}?") for p in PATHOLOGIES])

    def embed_text(self, text: str) -> np.ndarray:
        words = "".join(c.lower() if c.isalnum() else " " for c in text).split() or ["<empty>"]
        return _unit(sum(_word(w) for w in words))

    def embed_volume(self, volume: Volume) -> np.ndarray:
        self.volume_calls += 1
        arr = volume.array.astype(np.float32)
        grid = [np.linspace(0, n - 1, 8).round().astype(int) for n in arr.shape]
        coarse = arr[np.ix_(*grid)].reshape(-1)
        coarse = (coarse - coarse.mean()) / (coarse.std() + 1e-3)
        return _unit(self._proj.T @ coarse[:DIM])

    def speak(self, text: str, seconds_per_word: float = 0.35) -> np.ndarray:
        """Noise audio standing for ``text`` (its length grows with the words)."""
        n = int(SAMPLE_RATE * seconds_per_word * max(len(text.split()), 1))
        audio = np.random.default_rng(zlib.crc32(text.encode())).uniform(-0.3, 0.3, n)
        audio = audio.astype(np.float32)
        self._spoken[_key(audio)] = text
        return audio

    def embed_audio(self, audio: np.ndarray) -> np.ndarray:
        text = self._spoken.get(_key(audio))
        if text is None:
            raise AssertionError("FakeModels.embed_audio got audio that speak() did not make")
        return self.embed_text(text)

    def zero_shot(self, volume_embedding: np.ndarray) -> dict[str, float]:
        e = np.asarray(volume_embedding, dtype=np.float32)
        logits = 6.0 * e[: len(PATHOLOGIES)] * np.sqrt(DIM) / 4.0
        return {p: float(1 / (1 + np.exp(-z))) for p, z in zip(PATHOLOGIES, logits, strict=True)}

    @property
    def thresholds(self) -> dict[str, float]:
        return {p: 0.5 for p in PATHOLOGIES}

    def query_scores(self, query_embedding: np.ndarray) -> dict[str, float]:
        sims = self._protos @ np.asarray(query_embedding, dtype=np.float32)
        return {p: float(s) for p, s in zip(PATHOLOGIES, sims, strict=True)}

    def match_query(self, query_embedding: np.ndarray) -> tuple[str, float]:
        scores = self.query_scores(query_embedding)
        best = max(scores, key=scores.__getitem__)
        return best, scores[best]


def make_volume(seed: int, shape: tuple[int, int, int] = (16, 24, 24)) -> Volume:
    rng = np.random.default_rng(seed)
    arr = rng.integers(-1000, 400, size=shape).astype(np.int16)
    return Volume(
        arr,
        spacing=(1.0, 1.0, 2.5),
        meta={"SeriesInstanceUID": f"1.2.826.0.1.3680043.10.{seed}"},
    )


def build_library(folder: Path, models: FakeModels, n: int = len(REPORTS)):
    """A small library: volumes written as NRRD (so they can be reopened) with REPORTS."""
    from radvoice.imaging import write_volume
    from radvoice.library import CaseLibrary

    lib = CaseLibrary(folder / "library")
    for i in range(n):
        volume = make_volume(100 + i, shape=(10 + 2 * i, 24, 24))
        path = write_volume(volume, folder / f"case{i}.nrrd")
        labels = [int(p.lower() in REPORTS[i].lower()) for p in PATHOLOGIES]
        lib.add_volume(volume, models, source=str(path), report=REPORTS[i], labels=labels)
    return lib
