"""The spoken-command corpus: commands and the utterances that must never fire one.

``build_command_corpus(out, ...)`` speaks, through :func:`radvoice.data.speech.synthesize_corpus_audio`
and the student corpus's speaker/engine split plan (seed 1: the same training voices, held-out
speakers and held-out engines as the speech student),

* commands (:mod:`radvoice.assistant.voice_commands`): ``per_command`` training utterances per
  command (its help-panel examples bare, the rest drawn from its training utterances), and
  ``test_per_command`` held-out utterances per command, spoken once in every test split, plus
  ``val_per_command`` others by the val voices (the threshold is chosen on them);
* negatives ("not a command"): the spoken-question phrasings, short dictated findings, CT-CLIP
  prompts, parts of generated reports and some chatter; the held-out question and finding texts
  (the student corpus's CRC-32 rule) and the reports of held-out seeds only in val and test.

``out/command_items.jsonl`` holds each item's kind (command, query, finding, prompt, report,
chatter), command name and text split. Run ``python -m radvoice.training.command_corpus --out
DIR`` (resumable; ``nice`` it, one core).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.errors import RadVoiceError

ITEMS_NAME = "command_items.jsonl"
PLAN_SEED = 1  # the student corpus's split plan (runs/corpus/student_s1)
NEGATIVE_KINDS = ("query", "finding", "prompt", "report", "chatter")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandUtterance:
    """One spoken item of the command corpus (``command`` None: not a command)."""

    utt_id: str
    path: Path
    kind: str
    text: str
    split: str
    command: str | None = None
    speaker: str = ""
    duration: float = 0.0


def _item(item_id: str, kind: str, text: str, split: str, command: str | None = None) -> dict:
    return {"item_id": item_id, "kind": kind, "text": text, "text_split": split, "command": command}


def command_items(
    per_command: int, test_per_command: int, val_per_command: int, seed: int
) -> list[dict[str, Any]]:
    """Command items per text split, drawn deterministically from ``seed``."""
    from radvoice.voice_catalog import COMMAND_NAMES, VOICE_COMMANDS, split_utterances

    out = []
    for ci, name in enumerate(COMMAND_NAMES):
        train, held = split_utterances(name)
        rng = np.random.default_rng([seed, ci])
        first = list(VOICE_COMMANDS[name].examples)
        rest = [t for t in train if t not in first]
        picks = first + [rest[i] for i in rng.permutation(len(rest))[: per_command - len(first)]]
        order = rng.permutation(len(held))
        test = [held[i] for i in order[:test_per_command]]
        val = [held[i] for i in order[test_per_command : test_per_command + val_per_command]]
        for split, texts in (("train", picks), ("test", test), ("val", val)):
            out += [
                _item(f"cmd{ci:02d}_{split}_{k:03d}", "command", t, split, name)
                for k, t in enumerate(texts)
            ]
    return out


def negative_items(
    n_reports: int, seed: int, question_every: int = 1, prompt_templates: int | None = None
) -> list[dict[str, Any]]:
    """Questions, findings, prompts, report parts and chatter ("not a command"): every
    ``question_every``-th question phrasing and finding (training and held-out alike), the
    prompts of the first ``prompt_templates`` templates (all: None) in training, the first
    template's "is present" prompts in val and test."""
    from radvoice.data.queries import ALL_QUERIES
    from radvoice.data.speech import BABBLE_TEXTS
    from radvoice.labels import PATHOLOGIES
    from radvoice.nn.zeroshot import PROMPT_TEMPLATES, prompt_texts
    from radvoice.training.student_corpus import finding_texts, query_held_out

    out = []
    for kind, texts in (("query", ALL_QUERIES), ("finding", finding_texts())):
        for i, (text, _) in enumerate(texts):
            if i % question_every:
                continue
            if query_held_out(text):
                out += [_item(f"{kind}_{i:04d}_{s}", kind, text, s) for s in ("val", "test")]
            else:
                out.append(_item(f"{kind}_{i:04d}", kind, text, "train"))
    prompts = prompt_texts(PATHOLOGIES, PROMPT_TEMPLATES)
    per_label = 2 * len(PROMPT_TEMPLATES)
    for i, text in enumerate(prompts):
        if prompt_templates is None or (i % per_label) // 2 < prompt_templates:
            out.append(_item(f"prompt_{i:03d}", "prompt", text, "train"))
        if i % per_label == 0:  # the first template, "is present"
            out += [_item(f"prompt_{i:03d}_{s}", "prompt", text, s) for s in ("val", "test")]
    for i, text in enumerate(BABBLE_TEXTS):
        out.append(_item(f"chatter_{i}", "chatter", text, "train"))
    for r, parts in enumerate(report_parts(n_reports, seed)):
        split = "train" if r < int(0.7 * n_reports) else ("val" if r % 2 else "test")
        out += [_item(f"report_{r:03d}_p{k}", "report", t, split) for k, t in enumerate(parts)]
    return out


def report_parts(n: int, seed: int, max_sentences: int = 3) -> list[list[str]]:
    """``n`` generated reports (random labels), each cut into dictation parts of one to
    ``max_sentences`` consecutive sentences."""
    from radvoice.data.reports import write_report
    from radvoice.data.tts import split_sentences

    rng = np.random.default_rng([seed, 7])
    out = []
    for _ in range(n):
        labels = (rng.random(18) < 0.25).astype(int)
        rep = write_report(labels, {}, rng)
        sentences = split_sentences(f"{rep.findings} {rep.impression}")
        parts, i = [], 0
        while i < len(sentences):
            k = int(rng.integers(1, max_sentences + 1))
            parts.append(" ".join(sentences[i : i + k]))
            i += k
        out.append(parts)
    return out


def to_speech_items(items: list[dict[str, Any]]) -> list[Any]:
    from radvoice.data.speech import SpeechItem

    return [
        SpeechItem(
            id=it["item_id"],
            text=it["text"],
            kind="report" if it["kind"] == "report" else "query",
            text_split=it["text_split"],
        )
        for it in items
    ]


def build_command_corpus(
    out: Path,
    per_command: int = 100,
    test_per_command: int = 12,
    val_per_command: int = 8,
    n_reports: int = 60,
    seed: int = 11,
    voices: str = "all",
    workers: int = 1,
    question_every: int = 1,
    prompt_templates: int | None = None,
) -> dict[str, Any]:
    """Make (or resume) the corpus; a summary of the utterances per split. Negatives are
    spoken first, then the commands (the help-panel examples first)."""
    from radvoice.data.speech import plan_for_engines, summarize_speech, synthesize_corpus_audio

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = negative_items(n_reports, seed, question_every, prompt_templates)
    commands = command_items(per_command, test_per_command, val_per_command, seed)
    items += sorted(commands, key=lambda it: (it["text_split"] != "train", it["item_id"][6:]))
    tmp = out / (ITEMS_NAME + ".tmp")
    tmp.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    tmp.replace(out / ITEMS_NAME)
    t0 = time.perf_counter()

    def progress(count: int, total: int) -> None:
        if count % 200 == 0 or count == total:
            log.info(f"speech {count}/{total} ({time.perf_counter() - t0:.0f} s)")

    rows = synthesize_corpus_audio(
        to_speech_items(items),
        out,
        plan_for_engines(voices, PLAN_SEED),
        seed=seed,
        workers=workers,
        progress=progress,
    )
    return {
        "items": len(items),
        "seconds": round(time.perf_counter() - t0),
        **summarize_speech(rows),
    }


def load_command_utterances(root: Path) -> list[CommandUtterance]:
    """The corpus's utterances with their kind and command."""
    from radvoice.data.speech import read_speech_manifest

    root = Path(root)
    path = root / ITEMS_NAME
    if not path.is_file():
        raise RadVoiceError(f"{root}: no {ITEMS_NAME} (not a command corpus)")
    items = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            it = json.loads(line)
            items[it["item_id"]] = it
    out = []
    for row in read_speech_manifest(root):
        it = items.get(row["item_id"])
        if it is None:
            continue
        out.append(
            CommandUtterance(
                row["id"],
                root / row["path"],
                it["kind"],
                row["text"],
                row["split"],
                it["command"],
                row.get("speaker", ""),
                float(row.get("duration", 0.0)),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--per-command", type=int, default=100)
    p.add_argument("--test-per-command", type=int, default=12)
    p.add_argument("--val-per-command", type=int, default=8)
    p.add_argument("--reports", type=int, default=60)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--voices", default="all")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--question-every", type=int, default=1, help="every k-th question phrasing")
    p.add_argument("--prompt-templates", type=int, help="training prompts of the first K templates")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    summary = build_command_corpus(
        Path(args.out),
        args.per_command,
        args.test_per_command,
        args.val_per_command,
        args.reports,
        args.seed,
        args.voices,
        args.workers,
        args.question_every,
        args.prompt_templates,
    )
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
