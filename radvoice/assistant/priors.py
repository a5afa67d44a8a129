"""Library search hits → :class:`PriorResult` rows for the priors panel (thumbnail included)."""

from __future__ import annotations

from collections.abc import Sequence

from radvoice.components.state import PriorResult
from radvoice.library import CaseLibrary, SearchHit

SNIPPET_CHARS = 400


def prior_results(library: CaseLibrary, hits: Sequence[SearchHit]) -> list[PriorResult]:
    """One row per hit: ``case <id>``, cosine score, positive labels, report snippet, axial PNG.

    ``extra`` keeps ``library_id`` (to open the case), ``labels_known`` and ``description``.
    """
    out = []
    for hit in hits:
        case = hit.case
        thumbs = library.store.thumbnails(hit.case_id)
        positives = case.positive_labels
        report = " ".join((case.report or "").split())
        out.append(
            PriorResult(
                case_id=f"case {hit.case_id}",
                score=float(hit.score),
                labels=tuple(positives or ()),
                report_snippet=report[:SNIPPET_CHARS],
                thumbnail_png=thumbs[0] if thumbs else None,
                path=case.source,
                extra={
                    "library_id": int(hit.case_id),
                    "labels_known": positives is not None,
                    "description": case.description,
                },
            )
        )
    return out
