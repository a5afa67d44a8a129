"""Re-embedding a library with new models: every case's vectors are recomputed from its source.

Report vectors come from the stored report text; CT vectors need the volume again: synthetic
cases are regenerated from their seed, files and DICOM series are read from their source path.
Each case is rewritten in its own transaction; the library switches model only when every case
carries the new vectors, so an interrupted run can simply be repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from radvoice.errors import RadVoiceError
from radvoice.library.embedder import Embedder, as_embedding, model_identity
from radvoice.library.library import CaseLibrary


@dataclass
class ReembedSummary:
    done: int = 0
    already: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def reembed(
    library: CaseLibrary,
    embedder: Embedder,
    progress: Callable[[int, int, str], None] | None = None,
) -> ReembedSummary:
    """Give every case vectors from ``embedder``; then make it the library's model."""
    model = model_identity(embedder)
    summary = ReembedSummary()
    total = library.store.count()
    offset = 0
    while batch := library.store.list_cases(limit=200, offset=offset):
        offset += len(batch)
        for case in batch:
            if progress is not None:
                progress(summary.done + summary.already + len(summary.failed), total, str(case.id))
            if case.model == model:
                summary.already += 1
                continue
            try:
                ct = as_embedding(embedder.embed_volume(library.load_volume(case.id)), "CT")
                rep = (
                    as_embedding(embedder.embed_text(case.report), "report")
                    if case.report
                    else None
                )
            except RadVoiceError as err:
                summary.failed.append((case.id, str(err)))
                continue
            library.store.replace_embeddings(case.id, model, ct, rep)
            summary.done += 1
    if not summary.failed:
        library.store.set_model(model)
        library.reindex()
    return summary
