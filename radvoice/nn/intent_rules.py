"""The numbers behind "is this utterance a question?": thresholds on the best query cosine,
the length and the question head's probability (:class:`IntentRules`, :func:`asks`), and the form
of typed text. Pure functions on numbers or numpy arrays, shared by the assistant
(:mod:`radvoice.assistant.intent`) and the evaluation (which measures the rule's routing)."""

from __future__ import annotations

from dataclasses import dataclass

from radvoice.nn.query_rank import QUERY_TIE_MARGIN

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
