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
from radvoice.nn.query_rank import QUERY_TIE_MARGIN, rank_query


class IntentKind(StrEnum):
    QUERY = "query"
    REPORT = "report"
    COMMAND = "command"


DEFAULT_COMMAND_THRESHOLD = 0.5
"""The command head's probability a spoken command needs (a setting: AssistantConfig)."""


@dataclass(frozen=True)
class IntentRules:
    """A query: best cosine ≥ ``query_threshold``, at most ``max_query_seconds`` and, when the
    speech model gives one, question probability ≥ ``question_threshold``; other pathologies
    within ``tie_margin`` of the best cosine are its alternatives. A command: not a query, at
    most ``max_command_seconds`` and the command head's best command ≥ ``command_threshold``."""

    query_threshold: float = 0.5
    max_query_seconds: float = 6.0
    tie_margin: float = QUERY_TIE_MARGIN
    question_threshold: float = 0.5
    command_threshold: float = DEFAULT_COMMAND_THRESHOLD
    max_command_seconds: float = 5.0


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


def asks(score, duration_s, question_probability, rules: IntentRules):
    """The rule itself, on numbers or numpy arrays: best query cosine, length and the question
    head's probability (1.0 when there is no head) all say "question"."""
    return (
        (score >= rules.query_threshold)
        & (duration_s <= rules.max_query_seconds)
        & (question_probability >= rules.question_threshold)
    )


def commands(command_probability, duration_s, rules: IntentRules):
    """The command rule on numbers or arrays, for utterances the question rule left: the best
    command's probability and the length say "command"."""
    return (command_probability >= rules.command_threshold) & (
        duration_s <= rules.max_command_seconds
    )


def best_command(names: list[str], probabilities: np.ndarray) -> tuple[str, float] | None:
    """The most probable real command of the head's classes (its "none" class excluded)."""
    from radvoice.assistant.voice_commands import NOT_A_COMMAND

    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    idx = [i for i, n in enumerate(names) if n != NOT_A_COMMAND]
    if not idx or p.size != len(names):
        return None
    i = max(idx, key=lambda k: p[k])
    return names[i], float(p[i])


TYPED_WORDS_PER_SECOND = 2.5
"""How long typed text counts as spoken (about 150 words per minute), for the length limit."""


QUESTION_WORDS = frozenset(
    "is are was were does do did has have any can could should would will what which where "
    "how why who whether "
    # requests, as radiologists ask: "rule out a pneumothorax", "check for nodules"
    "evaluate check rule show look find assess exclude search screen tell".split()
)


def text_question_probability(text: str) -> float:
    """Typed text is a question when it ends with "?", opens with a question word or a request
    ("is there an effusion", "any nodules", "rule out a hernia") or is one or two words (a
    pathology looked up by name): 1.0; else 0.0 (a typed finding, "there is a small effusion").
    """
    words = text.strip().lower().split()
    if not words:
        return 0.0
    asked = text.strip().endswith("?") or words[0] in QUESTION_WORDS or len(words) <= 2
    return 1.0 if asked else 0.0
