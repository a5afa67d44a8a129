"""``radvoice train question``: the speech student's question-vs-statement head.

The app must tell a spoken question ("is there a pleural effusion?") from a dictated finding
("there is a pleural effusion") to answer the one and look up priors for the other. The shared
CT-text space is trained to ignore that difference, so the best query-prototype cosine routes
most spoken statements as questions. This head reads the same frozen encoder frames as the
embedding (wh-words, word order, intonation) and gives one logit: trained on the corpus's
training split (spoken questions = 1; spoken prompts, short findings and report parts = 0;
the corpus has findings with ``--finding-repeats``), read on the
val and test splits, saved into the student folder.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.errors import RadVoiceError

logger = logging.getLogger(__name__)

QUESTION, STATEMENT_KINDS = "query", ("prompt", "finding", "report")
REPORT_SPLITS = ("val", "test_seen", "test_unseen_speaker", "test_unseen_engine")


def question_targets(utts: list, split: str) -> tuple[list, torch.Tensor, list[str]]:
    """The split's utterances with a target (question 1, statement 0) and their kinds."""
    chosen = [u for u in utts if u.split == split and u.kind in (QUESTION, *STATEMENT_KINDS)]
    y = torch.tensor([1.0 if u.kind == QUESTION else 0.0 for u in chosen])
    return chosen, y, [u.kind for u in chosen]


def train_question_head(
    student,
    utts: list,
    cache_dir: Path | None,
    steps: int = 600,
    batch: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
) -> dict[str, Any]:
    """Train ``student.question`` (created with the default shape) on cached encoder frames;
    return what it routes as a question per split (questions kept; prompts, findings and
    report parts taken for questions), by :func:`routing`."""
    from radvoice.nn.speech_student import QUESTION_HEAD, QuestionHead
    from radvoice.training.student_data import FeatureCache, encoder_key

    if student.config.train_top_layers:
        raise RadVoiceError("the question head trains on cached frames of a frozen encoder")
    train, y, _ = question_targets(utts, "train")
    if y.numel() == 0 or y.min() == y.max():
        raise RadVoiceError("the corpus needs spoken training questions and statements")
    torch.manual_seed(seed)
    student.config = replace(student.config, question=QUESTION_HEAD)
    student.question = QuestionHead(student.config.encoder.n_audio_state, QUESTION_HEAD)
    feats = FeatureCache(cache_dir, encoder_key(student))
    evaluated = [question_targets(utts, s) for s in REPORT_SPLITS]
    feats.ensure(student, train + [u for us, _, _ in evaluated for u in us])
    device = torch.device("cpu")
    head = student.question
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.05)
    sample_p = kind_balanced([u.kind for u in train])
    rng = np.random.default_rng(seed)
    head.train()
    for step in range(steps):
        idx = rng.choice(len(train), min(batch, len(train)), replace=False, p=sample_p)
        logits = student.question_logits(feats.chunks([train[i] for i in idx], device))
        loss = F.binary_cross_entropy_with_logits(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            logger.info(f"question head step {step}/{steps} loss {float(loss.detach()):.4f}")
    head.eval()
    report: dict[str, Any] = {"steps": steps, "train_utterances": len(train)}
    for split, (us, _, kinds) in zip(REPORT_SPLITS, evaluated, strict=True):
        if us:
            report[split] = routing(question_probabilities(student, feats, us), kinds)
    return report


def kind_balanced(kinds: list[str]) -> np.ndarray:
    """Sampling probabilities: half the batch questions, the other half split evenly between
    the statement kinds present (short findings are few but the hardest negatives)."""
    k = np.asarray(kinds)
    statements = [kind for kind in STATEMENT_KINDS if (k == kind).any()]
    p = np.zeros(len(k))
    for kind, share in [(QUESTION, 0.5), *((s, 0.5 / len(statements)) for s in statements)]:
        mask = k == kind
        if mask.any():
            p[mask] = share / mask.sum()
    return p / p.sum()


@torch.no_grad()
def question_probabilities(student, feats, utts: list, batch: int = 64) -> np.ndarray:
    """The question head's probability per cached utterance."""
    out = [
        torch.sigmoid(
            student.question_logits(feats.chunks(utts[s : s + batch], torch.device("cpu")))
        )
        for s in range(0, len(utts), batch)
    ]
    return torch.cat(out).numpy() if out else np.zeros(0)


def routing(p: np.ndarray, kinds: list[str], threshold: float = 0.5) -> dict[str, float]:
    """Share routed as a question, per kind (questions should be near 1, the others near 0)."""
    k = np.asarray(kinds)
    out = {}
    for kind, name in (
        (QUESTION, "questions"),
        ("prompt", "statements"),
        ("finding", "findings"),
        ("report", "report_parts"),
    ):
        if (k == kind).any():
            out[name] = float(np.mean(p[k == kind] >= threshold))
    return out


def train_question_cli(student_dir: str, data: str, out: str, steps: int) -> dict[str, Any]:
    """``radvoice train question --student DIR --data CORPUS --out DIR``."""
    from radvoice.nn.speech_student import SpeechStudent
    from radvoice.training.student import (
        load_student_data,
        read_training_info,
        write_training_info,
    )

    student = SpeechStudent.load(Path(student_dir))
    utts, _, _ = load_student_data(data)
    report = train_question_head(student, utts, Path(data).expanduser() / "cache", steps=steps)
    out_dir = Path(out)
    student.save(out_dir, teacher_sha256=student.teacher_sha256)
    info = read_training_info(Path(student_dir)) or {}
    write_training_info(out_dir, info | {"question_head": report})
    return report
