"""Case-library chores for the app (no Qt): open, summarise, import, build the demo, re-index.

Long tasks take ``progress(done, total, what)``; raising :class:`TaskCancelled` from it stops
the task after the current case (every committed case stays: imports are resumable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from radvoice.errors import RadVoiceError
from radvoice.library import CaseLibrary
from radvoice.library.paths import db_path

Progress = Callable[[int, int, str], None]


class TaskCancelled(RadVoiceError):
    """The user cancelled a library task."""


def library_exists(directory: Path) -> bool:
    return db_path(Path(directory)).is_file()


def open_library(directory: Path | str, create: bool = False) -> CaseLibrary:
    """Open the library in ``directory`` (``create``: make an empty one if there is none)."""
    return CaseLibrary(Path(directory), create=create)


@dataclass(frozen=True)
class LibrarySummary:
    """What the library dialog shows."""

    directory: str
    cases: int
    model: str  # "teacher (ab12cd34ef56)" or "none yet"
    indexes: str  # one line per embedding space

    def lines(self) -> list[str]:
        return [self.directory, str(self.cases), self.model, self.indexes]


def summarise(library: CaseLibrary) -> LibrarySummary:
    stats = library.stats()
    model = stats.get("model")
    model_text = "none yet" if not model else f"{model['name']} ({model['checksum'][:12]})"
    parts = []
    for space, info in dict(stats.get("indexes") or {}).items():
        if "problem" in info:
            parts.append(f"{space}: not built ({info['problem']})")
        else:
            fresh = "" if info.get("up_to_date") else ", out of date"
            parts.append(f"{space}: {info['kind']}, {info['vectors']} vectors{fresh}")
    return LibrarySummary(
        str(library.directory), int(stats["cases"]), model_text, "; ".join(parts) or "none"
    )


def import_paths(
    library: CaseLibrary, models, paths: Sequence[str | Path], progress: Progress | None = None
) -> str:
    """Import volumes / DICOM folders / a CT-RATE download; returns a one-line summary."""
    from radvoice.library.importer import collect_items, import_items

    items = collect_items([str(p) for p in paths])
    if not items:
        raise RadVoiceError("nothing importable found (CT volumes, DICOM folders, CT-RATE)")
    summary = import_items(library, models, items, progress=progress)
    text = f"imported {len(summary.added)} case(s), {summary.skipped} already in the library"
    if summary.failed:
        source, why = summary.failed[0]
        text += f"; {len(summary.failed)} failed (first: {Path(source).name}: {why})"
    return text


def build_demo_library(
    library: CaseLibrary, models, n_cases: int = 500, progress: Progress | None = None
) -> str:
    """The demo library: generated cases plus lung1/lung2 when ``../shared/data/ct`` is there."""
    from radvoice.library.demo import build_demo, default_ct_dir

    summary = build_demo(library, models, n_synthetic=n_cases, ct_dir=default_ct_dir(),
                         progress=progress)  # fmt: skip
    text = f"demo library: {summary.added} case(s) added, {summary.skipped} already there"
    if summary.failed:
        text += f", {len(summary.failed)} failed ({summary.failed[0][1]})"
    return text


def reindex(library: CaseLibrary) -> str:
    counts = library.reindex()
    return "re-indexed: " + ", ".join(f"{space} {n} vectors" for space, n in counts.items())
