"""Spoken viewer commands through the app's whole intent rule, per speech split.

Each utterance of the command corpus (:mod:`radvoice.training.command_corpus`) goes through
what the app computes at key release, from the same cached encoder frames: the student's
embedding (best query-prototype cosine), its question head and the command head; then
:func:`radvoice.assistant.intent.asks` (a question?) and
:func:`radvoice.assistant.intent.commands` (a command?). Reported per split:

* ``top1`` — held-out spoken commands run as the right command;
* ``as_question`` / ``as_report`` — commands taken as a question / left as a finding or report;
* ``false_command`` — negatives (spoken questions, findings, CT-CLIP prompts, report parts)
  that would fire a command, overall and per kind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radvoice.labels import PATHOLOGIES
from radvoice.nn.intent_rules import IntentRules, asks, commands
from radvoice.training.command_head import THRESHOLDS, train_command_head

log = logging.getLogger(__name__)

SPLITS = ("val", "test_seen", "test_unseen_speaker", "test_unseen_engine")
SPLIT_TITLES = {
    "val": "val voices",
    "test_seen": "training voices",
    "test_unseen_speaker": "held-out speakers",
    "test_unseen_engine": "held-out engines",
}
NEGATIVE_KINDS = ("query", "finding", "prompt", "report")


@torch.no_grad()
def route_arrays(student, head, scorer, utts: list, feats, batch: int = 64) -> dict[str, Any]:
    """What the intent rule reads, per utterance (from cached frames): best query cosine,
    question probability, command-head probabilities; plus the truth."""
    from radvoice.nn.speech_student import _run_head

    cpu = torch.device("cpu")
    scores, qs, probs = [], [], []
    for s in range(0, len(utts), batch):
        chunks = feats.chunks(utts[s : s + batch], cpu)
        emb = student.forward_chunks(chunks).float().numpy()
        q = torch.sigmoid(student.question_logits(chunks)) if student.question is not None else None
        qs.append(np.ones(len(emb)) if q is None else q.numpy())
        probs.append(torch.softmax(_run_head(head, chunks), -1).numpy())
        for e in emb:
            cos = scorer.query_scores(e)
            scores.append(max(cos[p] for p in PATHOLOGIES))
    classes = list(head.classes)
    index = {c: i for i, c in enumerate(classes)}
    return {
        "classes": classes,
        "score": np.asarray(scores),
        "question": np.concatenate(qs) if qs else np.zeros(0),
        "probs": np.concatenate(probs) if probs else np.zeros((0, len(classes))),
        "duration": np.asarray([u.duration for u in utts]),
        "is_command": np.asarray([u.command is not None for u in utts], dtype=bool),
        "truth": np.asarray([index.get(u.command, -1) if u.command else -1 for u in utts]),
        "kind": np.asarray([u.kind for u in utts]),
        "split": np.asarray([u.split for u in utts]),
    }


def decide(
    routed: dict[str, Any], threshold: float, rules: IntentRules | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(taken as a question, fires a command, the command class) per utterance."""
    from radvoice.voice_catalog import NOT_A_COMMAND

    rules = replace(rules or IntentRules(), command_threshold=threshold)
    probs = routed["probs"].copy()
    none = routed["classes"].index(NOT_A_COMMAND)
    probs[:, none] = -1.0
    best = probs.argmax(1) if len(probs) else np.zeros(0, int)
    p_best = probs[np.arange(len(best)), best] if len(best) else np.zeros(0)
    query = asks(routed["score"], routed["duration"], routed["question"], rules)
    fired = ~query & commands(p_best, routed["duration"], rules)
    return query, fired, best


def metrics(routed: dict[str, Any], threshold: float, mask: np.ndarray) -> dict[str, Any]:
    """The command table's numbers for the utterances in ``mask``."""
    query, fired, best = decide(routed, threshold)
    cmd = mask & routed["is_command"]
    neg = mask & ~routed["is_command"]
    out: dict[str, Any] = {"commands": int(cmd.sum()), "negatives": int(neg.sum())}
    if cmd.any():
        right = fired & (best == routed["truth"])
        out["top1"] = float(right[cmd].mean())
        out["head_top1"] = float((best == routed["truth"])[cmd].mean())
        out["as_question"] = float(query[cmd].mean())
        out["as_report"] = float((~query & ~fired)[cmd].mean())
        out["wrong_command"] = float((fired & (best != routed["truth"]))[cmd].mean())
    if neg.any():
        out["false_command"] = float(fired[neg].mean())
        for kind in NEGATIVE_KINDS:
            k = neg & (routed["kind"] == kind)
            if k.any():
                out[f"false_command_{kind}"] = float(fired[k].mean())
    return out


def evaluate_commands(student, head, scorer, utts: list, feats, threshold: float) -> dict:
    """:func:`metrics` per split of :data:`SPLITS` (and the threshold used)."""
    chosen = [u for u in utts if u.split in SPLITS]
    routed = route_arrays(student, head, scorer, chosen, feats)
    out: dict[str, Any] = {"threshold": threshold}
    for split in SPLITS:
        mask = routed["split"] == split
        if mask.any():
            out[split] = metrics(routed, threshold, mask)
    return out


def command_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The command table: header and rows (a column per split evaluated)."""
    splits = [s for s in SPLITS if s in result]
    header = [f"spoken commands (threshold {result.get('threshold', float('nan')):.2f})"]
    header += [SPLIT_TITLES[s] for s in splits]
    lines = [
        ("command → right command (top-1)", "top1"),
        ("  command head alone (top-1)", "head_top1"),
        ("command taken as question", "as_question"),
        ("command taken as finding/report", "as_report"),
        ("negatives firing a command", "false_command"),
        *((f"  {k}s firing a command", f"false_command_{k}") for k in NEGATIVE_KINDS),
        ("utterances: commands / negatives", None),
    ]
    rows = []
    for title, key in lines:
        if key is None:
            cells = [f"{result[s]['commands']} / {result[s]['negatives']}" for s in splits]
        else:
            cells = [_f(result[s].get(key)) for s in splits]
        rows.append([title, *cells])
    return header, rows


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def run_command_eval(models: Path, data: Path, threshold: float | None = None) -> dict[str, Any]:
    """The command table's results for the shipped student + command head (``models``) on a
    command corpus (``data``; its encoder frames are cached in ``data/cache``)."""
    from radvoice.eval.eval_sets import EvalDataError
    from radvoice.nn.command_head import OUTPUT, attach_command_head
    from radvoice.nn.pipeline import RadVoiceModels
    from radvoice.nn.speech_student import SpeechStudent
    from radvoice.training.command_corpus import load_command_utterances
    from radvoice.training.student_data import FeatureCache, encoder_key

    if not (Path(models) / "commands").is_dir():
        raise EvalDataError(f"no command model at {Path(models) / 'commands'}")
    if not Path(data).is_dir():
        raise EvalDataError(f"command corpus not found: {data}")
    student = SpeechStudent.load(Path(models) / "student")
    head = attach_command_head(student, Path(models) / "commands")
    student.attached_heads.pop(OUTPUT)  # scored from cached frames here, not streamed
    utts = [u for u in load_command_utterances(Path(data)) if u.split in SPLITS]
    if not utts:
        raise EvalDataError(f"{data}: no spoken val or test utterances")
    feats = FeatureCache(Path(data) / "cache", encoder_key(student))
    feats.ensure(student, utts)
    scorer = RadVoiceModels(root=Path(models))
    t = IntentRules().command_threshold if threshold is None else threshold
    return evaluate_commands(student, head, scorer, utts, feats, t)


def command_text_table(result: dict[str, Any]) -> str:
    """The fixed-width command table ``radvoice eval`` prints."""
    header, rows = command_rows(result)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]]) + "\n"


def command_markdown(result: dict[str, Any]) -> str:
    """The command section of ``eval.md``."""
    from radvoice.eval.report import markdown_table

    return (
        "\n## Spoken viewer commands\n\n"
        "Held-out command phrasings (wordings never trained on) and negatives (held-out spoken "
        "questions and findings, CT-CLIP prompts, parts of held-out reports) per voice "
        "condition, through the app's whole intent rule: the question rule first, then the "
        "command head's best command ≥ the threshold (chosen on the val voices) within 5 s. "
        "Targets: top-1 ≥ 0.97, negatives firing a command ≤ 0.01, commands taken as "
        "questions or findings ≤ 0.02.\n\n" + markdown_table(*command_rows(result))
    )


# -- training the head (the CLI): here, since choosing its threshold is an evaluation --------
def choose_threshold(routed: dict[str, Any], max_false: float = 0.005) -> float:
    """The lowest of :data:`THRESHOLDS` at which at most ``max_false`` of the val negatives
    fire a command (``routed`` from :func:`route_arrays`)."""
    neg = ~routed["is_command"]
    for t in THRESHOLDS:
        _, fired, _ = decide(routed, t)
        if neg.any() and float(fired[neg].mean()) <= max_false:
            return float(t)
    return float(THRESHOLDS[-1])


def train_commands_cli(
    student_dir: str, data: str, out: str, steps: int, models: str | None = None
) -> dict[str, Any]:
    """``radvoice train commands --student DIR --data CORPUS --out DIR``: train, choose the
    threshold on val, save the head (registered beside ``out``) and report val (the test
    splits are for ``radvoice eval``)."""
    import json

    from radvoice.nn.pipeline import RadVoiceModels
    from radvoice.nn.speech_student import SpeechStudent
    from radvoice.training.command_corpus import load_command_utterances
    from radvoice.training.student_data import FeatureCache, encoder_key

    torch.set_num_threads(1)
    student = SpeechStudent.load(Path(student_dir))
    utts = [u for u in load_command_utterances(Path(data)) if u.split in ("train", "val")]
    feats = FeatureCache(Path(data) / "cache", encoder_key(student))
    t0 = time.perf_counter()
    feats.ensure(student, utts, progress=_progress("encoder frames"))
    log.info(f"encoder frames ready in {time.perf_counter() - t0:.0f} s")
    head = train_command_head(student, utts, feats, steps=steps)
    root = Path(models) if models else Path(student_dir).parent
    scorer = RadVoiceModels(root=root, student=Path(student_dir).name)
    val = [u for u in utts if u.split == "val"]
    threshold = choose_threshold(route_arrays(student, head, scorer, val, feats))
    from radvoice.nn.command_head import student_dims

    head.threshold = threshold
    head.save(Path(out), student_dims(student))
    report = {"steps": steps, "threshold": threshold, "train_utterances": len(utts)}
    report |= evaluate_commands(student, head, scorer, utts, feats, threshold)
    (Path(out) / "training.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def _progress(what: str):
    state = {"last": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - state["last"] > 30 or done == total:
            state["last"] = now
            log.info(f"{what}: {done}/{total}")

    return progress
