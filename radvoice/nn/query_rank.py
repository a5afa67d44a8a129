"""Rank a question's cosines to the pathologies' query prototypes (no torch: the assistant and
the CLI share it). A runner-up within :data:`QUERY_TIE_MARGIN` of the best is a near tie that
the answer shows beside the best rather than hide."""

from __future__ import annotations

QUERY_TIE_MARGIN = 0.05
"""Pathologies whose query cosine is within this of the best are shown as alternatives."""


def rank_query(
    scores: dict[str, float], margin: float = QUERY_TIE_MARGIN
) -> tuple[tuple[str, float], list[tuple[str, float]]]:
    """``query_scores`` → the best (label, cosine) and the near ties within ``margin`` of it,
    best first (ties in cosine keep the order of ``scores``)."""
    if not scores:
        raise ValueError("no query scores")
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best = (ranked[0][0], float(ranked[0][1]))
    return best, [(k, float(v)) for k, v in ranked[1:] if best[1] - v <= margin]
