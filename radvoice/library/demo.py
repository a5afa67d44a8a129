"""The demo library: synthetic cases from the corpus generator plus the two real chest CTs.

Synthetic cases are ``generate_case(DEMO_SEED, index)`` for index 0..n-1 (a seed kept apart
from training corpora), stored with source ``synthetic:<seed>:<index>`` so they can be
regenerated for re-embedding instead of keeping their voxels. lung1/lung2 have no radiology report or CT-RATE
labels; their report is a factual note of the lesion marked in the accompanying mask, and their
labels are stored as unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.errors import RadVoiceError
from radvoice.library.embedder import Embedder
from radvoice.library.errors import LibraryError
from radvoice.library.library import CaseLibrary
from radvoice.library.synthetic import SYNTHETIC_PREFIX as SYNTHETIC_PREFIX
from radvoice.library.synthetic import synthetic_generator as synthetic_generator
from radvoice.library.synthetic import synthetic_source
from radvoice.library.synthetic import synthetic_volume as synthetic_volume

DEMO_SEED = 9090
REAL_CASES = {
    "lung1": "a small lung nodule",
    "lung2": "a lung mass",
}
ProgressFn = Callable[[int, int, str], None]


@dataclass
class DemoSummary:
    added: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def report_text(report: Any) -> str:
    """A generated report (``Report`` with ``.text``, or a plain string) as text."""
    return str(getattr(report, "text", report)).strip()


def known_labels(case: Any) -> list[int] | None:
    """The 18 labels, or None when the generator marks some as untrustworthy."""
    known = getattr(case, "known", None)
    if known is not None and not bool(np.all(known)):
        return None
    return [int(v) for v in case.labels]


def real_case_report(image: Path, name: str) -> str:
    """A factual note from the lesion mask beside the image (no report exists for these)."""
    from radvoice.imaging import read_volume

    what = REAL_CASES[name]
    label = image.with_name(image.name.replace("_image", "_label"))
    size = ""
    if label.is_file():
        mask = read_volume(label)
        voxel_ml = float(np.prod(mask.spacing)) / 1000.0
        size = f" of about {np.count_nonzero(mask.array) * voxel_ml:.1f} cm3"
    return (
        f"Real chest CT ({name}, pyradiomics test data); no radiology report is available. "
        f"The accompanying mask marks {what}{size}."
    )


def build_demo(
    library: CaseLibrary,
    embedder: Embedder,
    n_synthetic: int = 500,
    ct_dir: Path | None = None,
    progress: ProgressFn | None = None,
    seed: int = DEMO_SEED,
) -> DemoSummary:
    """Add ``n_synthetic`` generated cases and lung1/lung2 (resumable: skips what is in)."""
    generate = synthetic_generator()
    from radvoice.imaging import read_volume

    summary = DemoSummary()
    real = []
    if ct_dir is not None:
        real = [(n, ct_dir / f"{n}_image.nrrd") for n in REAL_CASES]
        missing = [str(p) for _, p in real if not p.is_file()]
        if missing:
            raise LibraryError(f"real CT not found: {', '.join(missing)}")
    total = n_synthetic + len(real)
    have = library.store.sources()
    for i in range(n_synthetic):
        source = synthetic_source(seed, i)
        if progress is not None:
            progress(i, total, source)
        if source in have:
            summary.skipped += 1
            continue
        try:
            case = generate(seed, i)
            _, added = library.add_volume(
                case.volume, embedder, source=source, report=report_text(case.report),
                labels=known_labels(case),
            )  # fmt: skip
        except RadVoiceError as err:
            summary.failed.append((source, str(err)))
            continue
        summary.added += int(added)
        summary.skipped += int(not added)
    for j, (name, path) in enumerate(real):
        if progress is not None:
            progress(n_synthetic + j, total, name)
        source = str(path.resolve())
        if source in have:
            summary.skipped += 1
            continue
        volume = read_volume(path)
        st = path.stat()
        _, added = library.add_volume(
            volume, embedder, source=source, report=real_case_report(path, name), labels=None,
            source_size=st.st_size, source_mtime=st.st_mtime,
        )  # fmt: skip
        summary.added += int(added)
        summary.skipped += int(not added)
    if progress is not None:
        progress(total, total, "")
    return summary


def default_ct_dir() -> Path | None:
    """``../shared/data/ct`` beside the checkout, when it is there."""
    repo = Path(__file__).resolve().parents[2]
    cand = repo.parent / "shared" / "data" / "ct"
    return cand if (cand / "lung1_image.nrrd").is_file() else None
