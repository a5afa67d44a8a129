"""Is an utterance a question about one pathology, or a report/finding to look up priors for?

A spoken query ("is there a pleural effusion?") lands near that pathology's query prototype
(``match_query``); a dictated finding or report does not, or is long. Both the score threshold
and the length limit are settings (:class:`IntentRules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from radvoice.assistant.models import AssistantModels
from radvoice.labels import PATHOLOGIES


class IntentKind(StrEnum):
    QUERY = "query"
    REPORT = "report"


@dataclass(frozen=True)
class IntentRules:
    """A query: ``match_query`` cosine ≥ ``query_threshold`` and at most ``max_query_seconds``."""

    query_threshold: float = 0.5
    max_query_seconds: float = 6.0


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    label: str  # the best-matching pathology (also for reports, for the message)
    score: float  # its match_query cosine


def classify_intent(
    models: AssistantModels,
    embedding: np.ndarray,
    duration_s: float,
    rules: IntentRules | None = None,
) -> Intent:
    """Classify a speech (or text) embedding of an utterance lasting ``duration_s`` seconds."""
    rules = rules or IntentRules()
    label, score = models.match_query(np.asarray(embedding, dtype=np.float32))
    if label not in PATHOLOGIES:
        raise ValueError(f"match_query returned an unknown label {label!r}")
    is_query = float(score) >= rules.query_threshold and duration_s <= rules.max_query_seconds
    return Intent(IntentKind.QUERY if is_query else IntentKind.REPORT, label, float(score))
