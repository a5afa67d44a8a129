"""Helpers for the library tests: a deterministic test embedder and small volumes.

The embedder is for tests only (the product uses the shipped models): words hash to fixed random
vectors, so a report's own text is its nearest neighbour, and volumes map through a fixed
projection of a coarse grid. It also serves the kill -9 subprocess (``python -m`` of this file).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES

DIM = 512
REPORTS = [
    "Right pleural effusion with adjacent atelectasis.",
    "Emphysema in both upper lobes; no nodule.",
    "Cardiomegaly and pericardial effusion.",
    "A spiculated lung nodule in the left lower lobe.",
    "Bronchiectasis and peribronchial thickening.",
    "Hiatal hernia. Coronary artery wall calcification.",
    "Consolidation in the right middle lobe.",
    "Interlobular septal thickening and mosaic attenuation pattern.",
]


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _word_vector(word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM)


class HashEmbedder:
    """Deterministic stand-in for RadVoiceModels (tests only)."""

    def __init__(self, name: str = "test-hash", checksum: str = "0" * 64) -> None:
        self.model_name = name
        self.model_checksum = checksum
        self._projection = np.random.default_rng(7).standard_normal((DIM, 512))

    def embed_text(self, text: str) -> np.ndarray:
        words = "".join(c.lower() if c.isalnum() else " " for c in text).split()
        if not words:
            words = ["<empty>"]
        return _unit(sum(_word_vector(w) for w in words))

    def embed_volume(self, volume: Volume) -> np.ndarray:
        arr = volume.array.astype(np.float32)
        grid = [np.linspace(0, n - 1, 8).round().astype(int) for n in arr.shape]
        coarse = arr[np.ix_(*grid)].reshape(-1)
        coarse = (coarse - coarse.mean()) / (coarse.std() + 1e-3)
        return _unit(self._projection.T @ coarse[:DIM])

    def embed_audio(self, audio: np.ndarray) -> np.ndarray:
        idx = np.linspace(0, len(audio) - 1, DIM).round().astype(int)
        return _unit(np.asarray(audio, dtype=np.float64)[idx] + 1e-3)


def make_volume(seed: int, shape: tuple[int, int, int] = (12, 20, 20)) -> Volume:
    rng = np.random.default_rng(seed)
    arr = rng.integers(-1000, 400, size=shape).astype(np.int16)
    return Volume(
        arr, spacing=(0.8, 0.8, 2.0),
        meta={"SeriesInstanceUID": f"1.2.826.0.1.3680043.9.{seed}", "PatientName": "Doe^Jane"},
    )  # fmt: skip


def labels_for(seed: int) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, 2, NUM_PATHOLOGIES)]


def report_for(seed: int) -> str:
    return f"{REPORTS[seed % len(REPORTS)]} Case number {seed}."


def _import_many(library_dir: str, n: int) -> None:
    """Subprocess body: import cases 0..n-1 one by one through the product importer."""
    from radvoice.library.importer import ImportItem, import_items
    from radvoice.library.library import CaseLibrary

    items = [
        ImportItem(
            f"test:{s}", f"case{s}", report=report_for(s), labels=labels_for(s),
            load=lambda s=s: make_volume(s),
        )
        for s in range(n)
    ]  # fmt: skip
    with CaseLibrary(library_dir) as lib:
        import_items(lib, HashEmbedder(), items, progress=lambda i, t, w: print(i, flush=True))


if __name__ == "__main__":
    _import_many(sys.argv[1], int(sys.argv[2]))
    Path(sys.argv[1], "done").write_text("ok")
