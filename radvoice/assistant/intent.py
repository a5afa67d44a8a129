"""Is an utterance a question about one pathology, or a report/finding to look up priors for?

A spoken query ("is there a pleural effusion?") lands near that pathology's query prototype
(``query_scores``); a dictated finding or report does not, or is long. A short finding ("there
is a pleural effusion") lands near it too: the shared CT-text space ignores the difference.
So when the speech model has a question head, its probability must also say "question"
(:mod:`radvoice.training.question_head`). The thresholds and the length limit are settings
(:class:`IntentRules`). A question that lands almost as near
another pathology ("does the heart look enlarged?" between cardiomegaly and lymphadenopathy)
keeps that runner-up as an alternative, so the answer can show both rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from radvoice.assistant.models import AssistantModels
from radvoice.labels import PATHOLOGIES
from radvoice.nn.intent_rules import (  # the rule's numbers live below the assistant
    QUESTION_WORDS,
    TYPED_WORDS_PER_SECOND,
    IntentRules,
    asks,
    text_question_probability,
)
from radvoice.nn.query_rank import rank_query

__all__ = [
    "QUESTION_WORDS",
    "TYPED_WORDS_PER_SECOND",
    "Intent",
    "IntentKind",
    "IntentRules",
    "asks",
    "classify_intent",
    "text_question_probability",
]


class IntentKind(StrEnum):
    QUERY = "query"
    REPORT = "report"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    label: str  # the best-matching pathology (also for reports, for the message)
    score: float  # its cosine to that pathology's query prototype
    alternatives: tuple[tuple[str, float], ...] = ()  # near ties (label, cosine), best first
    question_probability: float | None = None  # the speech model's question head, if any


def classify_intent(
    models: AssistantModels,
    embedding: np.ndarray,
    duration_s: float,
    rules: IntentRules | None = None,
    question_probability: float | None = None,
) -> Intent:
    """Classify a speech (or text) embedding of an utterance lasting ``duration_s`` seconds;
    ``question_probability`` comes from the speech model's question head (None: no such head,
    e.g. typed text or an older model)."""
    rules = rules or IntentRules()
    scores = models.query_scores(np.asarray(embedding, dtype=np.float32))
    unknown = set(scores) - set(PATHOLOGIES)
    if unknown:
        raise ValueError(f"query_scores returned unknown labels {sorted(unknown)!r}")
    (label, score), near = rank_query(scores, rules.tie_margin)
    q = question_probability
    if not asks(score, duration_s, 1.0 if q is None else q, rules):
        return Intent(IntentKind.REPORT, label, score, question_probability=q)
    return Intent(IntentKind.QUERY, label, score, tuple(near), q)
