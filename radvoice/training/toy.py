"""Toy cases for smoke runs and tests: small volumes with label-specific blobs and short reports.

Far simpler than :mod:`radvoice.data`'s synthetic chest CTs; only meant to show that a pipeline
learns (``radvoice train teacher --data toy:64``).
"""

from __future__ import annotations

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGIES
from radvoice.training.cases import TrainingCase

TOY_SHAPE = (24, 40, 40)  # (nz, ny, nx)
TOY_SPACING = (9.0, 9.0, 13.0)
N_TOY_FINDINGS = 6


def _blob_center(c: int) -> tuple[int, int, int]:
    zs = (6, 12, 18)
    return (zs[c % 3], 12 if c < 3 else 27, 12 + 4 * (c % 3))


def toy_volume(labels: np.ndarray, seed: int) -> Volume:
    rng = np.random.default_rng(seed)
    nz, ny, nx = TOY_SHAPE
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    arr = np.full(TOY_SHAPE, -1000.0)
    body = ((y - ny / 2) / 17) ** 2 + ((x - nx / 2) / 18) ** 2 <= 1
    arr[body] = 40.0
    for cx in (nx / 2 - 8, nx / 2 + 8):
        lung = ((y - ny / 2) / 12) ** 2 + ((x - cx) / 6.5) ** 2 + ((z - nz / 2) / 11) ** 2 <= 1
        arr[lung] = -850.0
    for c in range(N_TOY_FINDINGS):
        if labels[c]:
            cz, cy, cx = _blob_center(c)
            blob = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= 6
            arr[blob] = 300.0 if c % 2 == 0 else -300.0
    arr += rng.normal(0.0, 20.0, TOY_SHAPE)
    return Volume(arr.astype(np.int16), spacing=TOY_SPACING, source=f"toy:{seed}")


def toy_report(labels: np.ndarray) -> str:
    present = [PATHOLOGIES[c] for c in range(NUM_PATHOLOGIES) if labels[c]]
    if not present:
        return "Findings: no acute abnormality. Impression: normal chest CT."
    return "Findings: " + " ".join(f"There is {p.lower()}." for p in present)


def toy_records(n: int, seed: int = 0, p_finding: float = 0.3) -> list[TrainingCase]:
    """``n`` toy cases (no split assigned); volumes are rebuilt on demand."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        labels = np.zeros(NUM_PATHOLOGIES, dtype=np.int64)
        labels[:N_TOY_FINDINGS] = rng.random(N_TOY_FINDINGS) < p_finding
        case_seed = seed * 100_003 + i
        out.append(
            TrainingCase(
                case_id=f"toy{seed}_{i:05d}",
                report=toy_report(labels),
                labels=labels,
                split="",
                load=lambda labels=labels, s=case_seed: toy_volume(labels, s),
            )
        )
    return out
