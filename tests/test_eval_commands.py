"""The command table of ``radvoice eval``: the intent rule applied to arrays, per-split metrics,
the threshold chosen on val, and the printed table."""

from __future__ import annotations

import numpy as np
import pytest

from radvoice.assistant.voice_commands import COMMAND_NAMES, NOT_A_COMMAND
from radvoice.eval.commands_eval import (
    choose_threshold,
    command_rows,
    command_text_table,
    decide,
    metrics,
)

CLASSES = [*COMMAND_NAMES, NOT_A_COMMAND]


def routed() -> dict:
    """Six utterances: a clear command, a wrong one, a weak one, a question the question rule
    claims, a finding the head calls a command, a long report part."""
    probs = np.full((6, len(CLASSES)), 0.001)
    rows = [(0, 0.95), (2, 0.9), (1, 0.4), (3, 0.99), (4, 0.7), (5, 0.99)]
    for i, (c, p) in enumerate(rows):
        probs[i, c] = p
        probs[i, -1] = 1 - p
    return {
        "classes": CLASSES,
        "score": np.array([0.2, 0.2, 0.2, 0.8, 0.3, 0.3]),
        "question": np.array([0.1, 0.1, 0.1, 0.9, 0.1, 0.1]),
        "probs": probs,
        "duration": np.array([1.2, 1.0, 1.5, 1.6, 2.0, 9.0]),
        "is_command": np.array([True, True, True, False, False, False]),
        "truth": np.array([0, 1, 1, -1, -1, -1]),
        "kind": np.array(["command"] * 3 + ["query", "finding", "report"]),
        "split": np.array(["test_seen"] * 6),
    }


def test_decide_applies_the_question_rule_first_then_threshold_and_length() -> None:
    query, fired, best = decide(routed(), 0.5)
    assert query.tolist() == [False, False, False, True, False, False]
    assert fired.tolist() == [True, True, False, False, True, False]
    assert best[:2].tolist() == [0, 2]


def test_metrics_and_table() -> None:
    r = routed()
    m = metrics(r, 0.5, np.ones(6, bool))
    assert m["top1"] == pytest.approx(1 / 3) and m["wrong_command"] == pytest.approx(1 / 3)
    assert m["as_report"] == pytest.approx(1 / 3) and m["as_question"] == 0.0
    assert m["false_command"] == pytest.approx(1 / 3) and m["false_command_finding"] == 1.0
    assert m["false_command_query"] == 0.0 and m["false_command_report"] == 0.0
    strict = metrics(r, 0.8, np.ones(6, bool))
    assert strict["false_command"] == 0.0 and strict["top1"] == pytest.approx(1 / 3)
    result = {"threshold": 0.5, "test_seen": m}
    header, _ = command_rows(result)
    assert header == ["spoken commands (threshold 0.50)", "training voices"]
    table = command_text_table(result)
    assert "command → right command (top-1)" in table and "0.333" in table
    assert "3 / 3" in table


def test_threshold_is_the_lowest_that_keeps_val_negatives_quiet() -> None:
    assert choose_threshold(routed(), max_false=0.0) == pytest.approx(0.75)
    assert choose_threshold(routed(), max_false=0.5) == pytest.approx(0.3)
