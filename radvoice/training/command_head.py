"""``radvoice train commands``: the spoken-command head on the speech student's frozen encoder.

Trained on the command corpus (:mod:`radvoice.training.command_corpus`) from cached encoder
frames (:class:`~radvoice.training.student_data.FeatureCache`, the student's chunked windows),
cross-entropy over the commands plus "not a command"; batches half commands (uniform over the
commands) and half negatives (uniform over spoken questions, findings, CT-CLIP prompts, report
parts; a little chatter). The command threshold is then chosen on the val voices: the lowest
probability at which at most ``max_false`` of the val negatives would fire a command through
the whole intent rule (:func:`radvoice.eval.commands_eval.route`). The head is saved (and
registered) in its own folder beside the student; the student is not changed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)
KIND_SHARES = {"query": 0.35, "finding": 0.2, "prompt": 0.15, "report": 0.25, "chatter": 0.05}
"""Shares of the negative half of a batch."""
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.3, 0.991, 0.05))


def class_targets(utts: list, classes: list[str]) -> torch.Tensor:
    """Class index per utterance: its command, or the "none" class."""
    from radvoice.assistant.voice_commands import NOT_A_COMMAND

    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index[u.command or NOT_A_COMMAND] for u in utts], dtype=torch.long)


def balanced(utts: list) -> np.ndarray:
    """Sampling probabilities: half the batch commands (each command alike), half negatives
    by :data:`KIND_SHARES` over the kinds present."""
    p = np.zeros(len(utts))
    cmds = [u.command for u in utts if u.command]
    names = sorted(set(cmds))
    kinds = {u.kind for u in utts if not u.command}
    share = {k: v for k, v in KIND_SHARES.items() if k in kinds}
    total = sum(share.values()) or 1.0
    count_cmd = {n: cmds.count(n) for n in names}
    count_kind = {k: sum(1 for u in utts if not u.command and u.kind == k) for k in share}
    for i, u in enumerate(utts):
        if u.command:
            p[i] = 0.5 / len(names) / count_cmd[u.command]
        elif u.kind in share:
            p[i] = 0.5 * share[u.kind] / total / count_kind[u.kind]
    return p / p.sum()


def train_command_head(
    student,
    utts: list,
    feats,
    steps: int = 1500,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
):
    """A fresh :class:`~radvoice.nn.command_head.CommandHead` trained on the training split."""
    from radvoice.assistant.voice_commands import COMMAND_NAMES, NOT_A_COMMAND
    from radvoice.nn.command_head import COMMAND_HEAD, CommandHead
    from radvoice.nn.speech_student import _run_head

    train = [u for u in utts if u.split == "train"]
    if not any(u.command for u in train) or all(u.command for u in train):
        raise RadVoiceError("the command corpus needs spoken training commands and negatives")
    classes = [*COMMAND_NAMES, NOT_A_COMMAND]
    torch.manual_seed(seed)
    head = CommandHead(student.config.encoder.n_audio_state, COMMAND_HEAD, classes)
    y = class_targets(train, classes)
    p = balanced(train)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    head.train()
    t0 = time.perf_counter()
    for step in range(steps):
        idx = rng.choice(len(train), batch, replace=True, p=p)
        logits = _run_head(head, feats.chunks([train[i] for i in idx], torch.device("cpu")))
        loss = F.cross_entropy(logits, y[idx], label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps - 1:
            log.info(f"command head step {step}/{steps} loss {float(loss.detach()):.4f}")
    head.eval()
    log.info(f"command head trained in {time.perf_counter() - t0:.0f} s")
    return head


def choose_threshold(routed: dict[str, Any], max_false: float = 0.005) -> float:
    """The lowest of :data:`THRESHOLDS` at which at most ``max_false`` of the val negatives
    fire a command (``routed`` from :func:`radvoice.eval.commands_eval.route_arrays`)."""
    from radvoice.eval.commands_eval import decide

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

    from radvoice.eval.commands_eval import evaluate_commands, route_arrays
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
