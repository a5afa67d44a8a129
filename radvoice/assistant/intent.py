"""Is an utterance a question about one pathology, a report/finding to look up priors for, or a
spoken viewer command?

A spoken query ("is there a pleural effusion?") lands near that pathology's query prototype
(``query_scores``); a dictated finding or report does not, or is long. A short finding ("there
is a pleural effusion") lands near it too: the shared CT-text space ignores the difference.
So when the speech model has a question head, its probability must also say "question"
(:mod:`radvoice.training.question_head`). The thresholds and the length limit are settings
(:class:`IntentRules`). A question that lands almost as near
another pathology ("does the heart look enlarged?" between cardiomegaly and lymphadenopathy)
keeps that runner-up as an alternative, so the answer can show both rather than guess.

A spoken command ("lung window", "scratch that") is named by the command head that streams
beside the speech student (:mod:`radvoice.nn.command_head`): the utterance is a command only
when the question rule does not claim it, it is short and the head's best command has
probability ≥ ``command_threshold`` (a setting; ``radvoice train commands`` reports the lowest
value at which the val voices' questions and findings fire no command), so a question or a
dictated finding does not fire one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from radvoice.assistant.models import AssistantModels
from radvoice.labels import PATHOLOGIES
from radvoice.nn.intent_rules import (  # the rule's numbers live below the assistant
    DEFAULT_COMMAND_THRESHOLD,
    QUESTION_WORDS,
    TYPED_WORDS_PER_SECOND,
    IntentRules,
    asks,
    commands,
    text_question_probability,
)
from radvoice.nn.query_rank import rank_query

__all__ = [
    "DEFAULT_COMMAND_THRESHOLD",
    "QUESTION_WORDS",
    "TYPED_WORDS_PER_SECOND",
    "Intent",
    "IntentKind",
    "IntentRules",
    "asks",
    "best_command",
    "classify_intent",
    "commands",
    "text_question_probability",
]


class IntentKind(StrEnum):
    QUERY = "query"
    REPORT = "report"
    COMMAND = "command"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    label: str  # the best-matching pathology (also for reports, for the message)
    score: float  # its cosine to that pathology's query prototype
    alternatives: tuple[tuple[str, float], ...] = ()  # near ties (label, cosine), best first
    question_probability: float | None = None  # the speech model's question head, if any
    command: str | None = None  # COMMAND: the CommandRegistry name
    command_probability: float | None = None  # the command head's best command, if any


def classify_intent(
    models: AssistantModels,
    embedding: np.ndarray,
    duration_s: float,
    rules: IntentRules | None = None,
    question_probability: float | None = None,
    command: tuple[str, float] | None = None,
) -> Intent:
    """Classify a speech (or text) embedding of an utterance lasting ``duration_s`` seconds;
    ``question_probability`` comes from the speech model's question head (None: no such head,
    e.g. typed text or an older model); ``command`` is the command head's best command and its
    probability (None: no command head, or voice commands off). A COMMAND intent keeps the
    best pathology and its cosine in ``label``/``score``; ``score`` is not its confidence
    (``command_probability`` is)."""
    rules = rules or IntentRules()
    scores = models.query_scores(np.asarray(embedding, dtype=np.float32))
    unknown = set(scores) - set(PATHOLOGIES)
    if unknown:
        raise ValueError(f"query_scores returned unknown labels {sorted(unknown)!r}")
    (label, score), near = rank_query(scores, rules.tie_margin)
    q = question_probability
    if asks(score, duration_s, 1.0 if q is None else q, rules):
        return Intent(IntentKind.QUERY, label, score, tuple(near), q)
    name, p = command if command is not None else (None, None)
    if p is not None and commands(p, duration_s, rules):
        return Intent(IntentKind.COMMAND, label, score, (), q, name, p)
    return Intent(IntentKind.REPORT, label, score, question_probability=q, command_probability=p)



def best_command(names: list[str], probabilities: np.ndarray) -> tuple[str, float] | None:
    """The most probable real command of the head's classes (its "none" class excluded)."""
    from radvoice.voice_catalog import NOT_A_COMMAND

    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    idx = [i for i, n in enumerate(names) if n != NOT_A_COMMAND]
    if not idx or p.size != len(names):
        return None
    i = max(idx, key=lambda k: p[k])
    return names[i], float(p[i])

