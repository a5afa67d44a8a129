"""The speech student's training corpus: synthetic CT cases with spoken reports, queries, prompts.

``build_student_corpus(out, n, seed, voices)`` writes, through the data engineers' APIs,

* ``out/`` — a corpus (:func:`radvoice.data.corpus.build_corpus`: volumes, case JSON, manifest);
* ``out/speech/`` — spoken reports and ``queries_per_case`` spoken queries of every case (a case's
  report and queries share one text split, grouped by case id), plus the zero-shot prompts
  (:func:`radvoice.nn.zeroshot.prompt_texts`) spoken once by training voices (text split
  ``train``, for distillation) and once per test split (``test_*``, for the evaluation);
* ``out/speech/student_items.jsonl`` — per spoken item: kind, case id, label and polarity.

Run ``python -m radvoice.training.student_corpus --out DIR --n N --seed S`` (resumable).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from radvoice.labels import PATHOLOGIES
from radvoice.nn.zeroshot import PROMPT_TEMPLATES, prompt_texts

ITEMS_NAME = "student_items.jsonl"
SPEECH_DIR = "speech"
log = logging.getLogger(__name__)


def prompt_items() -> list[dict[str, Any]]:
    """The zero-shot prompts as spoken items: id, text, label, polarity (1 present, 0 absent)."""
    out = []
    texts = prompt_texts(PATHOLOGIES, PROMPT_TEMPLATES)
    per_label = 2 * len(PROMPT_TEMPLATES)
    for i, text in enumerate(texts):
        out.append(
            {
                "item_id": f"prompt_{i:03d}",
                "kind": "prompt",
                "text": text,
                "label": PATHOLOGIES[i // per_label],
                "template": (i % per_label) // 2,
                "polarity": 1 - (i % 2),
                "case_id": None,
            }
        )
    return out


def case_items(root: Path, rows: list[dict[str, Any]], queries_per_case: int) -> list[dict]:
    """Report and query items of the corpus cases."""
    from radvoice.data.corpus import load_case_json

    items = []
    for r in rows:
        doc = load_case_json(root, r)
        rep = doc["report"]
        items.append(
            {
                "item_id": f"{r['case_id']}_report",
                "kind": "report",
                "text": f"{rep['findings']} {rep['impression']}".strip(),
                "case_id": r["case_id"],
                "label": None,
                "polarity": None,
            }
        )
        for qi, q in enumerate(doc["queries"][:queries_per_case]):
            items.append(
                {
                    "item_id": f"{r['case_id']}_q{qi}",
                    "kind": "query",
                    "text": q["text"],
                    "case_id": r["case_id"],
                    "label": q["label"],
                    "polarity": q.get("answer"),
                }
            )
    return items


def query_held_out(text: str) -> bool:
    """The fixed 15 % of query phrasings (by CRC-32 of the text) that no model trains on: the
    teacher's query-supervision split uses the same rule."""
    return zlib.crc32(text.encode("utf-8")) % 100 < 15


def phrasing_items(repeats: int = 1) -> list[dict[str, Any]]:
    """Every query phrasing of :mod:`radvoice.data.queries` as a case-free spoken query:
    training phrasings ``repeats`` times (a new voice each time), held-out phrasings once,
    spoken in the test splits only."""
    from radvoice.data.queries import ALL_QUERIES

    return held_out_items("phrase", "query", ALL_QUERIES, repeats)


def held_out_items(
    prefix: str, kind: str, texts: list[tuple[str, str]], repeats: int
) -> list[dict[str, Any]]:
    """Case-free items ``<prefix>_NNNN[_rK]`` of (text, label) pairs: texts held out by
    :func:`query_held_out` once in the test splits, the others ``repeats`` times in train."""
    out = []
    for i, (text, label) in enumerate(texts):
        held = query_held_out(text)
        for r in range(1 if held else repeats):
            out.append(
                {
                    "item_id": f"{prefix}_{i:04d}" + (f"_r{r}" if r else ""),
                    "kind": kind,
                    "text": text,
                    "label": label,
                    "polarity": None,
                    "case_id": None,
                    "text_split": "test" if held else "train",
                }
            )
    return out


def finding_texts(seed: int = 0, draws: int = 6) -> list[tuple[str, str]]:
    """Short dictated findings, one sentence each, with their pathology: sentences of the report
    generator (positive, negative, impression) and their telegraphic forms ("Cardiac
    enlargement is noted." → "Cardiac enlargement."), of three words or more. Statements, not
    questions: what the question head must tell apart from questions."""
    import numpy as np

    from radvoice.data.reports import IMPRESSION, NEGATIVE, POSITIVE

    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for label in PATHOLOGIES:
        texts = {POSITIVE[label]({}, rng) for _ in range(draws)}
        texts |= set(NEGATIVE.get(label, [])) | set(IMPRESSION.get(label, []))
        for text in sorted(t for t in texts if "{" not in t):
            for form in (text, telegraphic(text)):
                if len(form.split()) > 2:  # a bare name ("Cardiomegaly.") may be a lookup
                    out.setdefault(form, label)
    return sorted(out.items())


def telegraphic(sentence: str) -> str:
    """A finding as dictated in shorthand: no "There is", no "is noted/seen/present"."""
    s = re.sub(r"^There (is|are) (an? )?", "", sentence.strip())
    s = re.sub(r" (is|are) (present|noted|seen|identified|demonstrated)\.?$", ".", s)
    return s[:1].upper() + s[1:]


def finding_items(repeats: int = 1) -> list[dict[str, Any]]:
    """Every :func:`finding_texts` sentence as a case-free spoken finding: the held-out 15 %
    (by the same CRC-32 rule as the query phrasings) once in the test splits, the others
    ``repeats`` times in train."""
    return held_out_items("finding", "finding", finding_texts(), repeats)


def to_speech_items(
    items: list[dict[str, Any]], prompt_repeats: int = 1, test_prompt_repeats: int = 1
) -> list[Any]:
    """SpeechItems: case items grouped by case; prompts spoken in train (``prompt_repeats``
    times, each by another voice), once in val (the held-out val voices: a development set for
    spoken zero-shot, so choices need not be made on the test splits) and
    ``test_prompt_repeats`` times in every test split (renditions ``_rK``; the evaluation
    averages over classifiers of one rendition each); phrasings and findings in their fixed
    split, spoken as short items (speech kind "query"; their own kind stays in the item
    table)."""
    from radvoice.data.speech import SpeechItem

    out = []
    for it in items:
        if it["kind"] == "prompt":
            for split in ("train", "val", "test"):
                repeats = {"train": prompt_repeats, "test": test_prompt_repeats}.get(split, 1)
                for r in range(repeats):
                    out.append(
                        SpeechItem(
                            id=f"{it['item_id']}_{split}" + (f"_r{r}" if r else ""),
                            text=it["text"],
                            kind="query",
                            text_split=split,
                        )
                    )
        elif it.get("text_split"):
            out.append(
                SpeechItem(
                    id=it["item_id"], text=it["text"], kind="query", text_split=it["text_split"]
                )
            )
        else:
            out.append(
                SpeechItem(id=it["item_id"], text=it["text"], kind=it["kind"], group=it["case_id"])
            )
    return out


def write_items(items: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    tmp.replace(path)


def read_items(path: Path) -> dict[str, dict[str, Any]]:
    """``student_items.jsonl`` keyed by item id."""
    rows = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x]
    return {r["item_id"]: r for r in rows}


def build_student_corpus(
    out: Path,
    n: int,
    seed: int,
    voices: str = "all",
    workers: int = 1,
    queries_per_case: int = 2,
    max_seconds: float = 30.0,
    speech_cases: int | None = None,
    prompt_templates: int | None = None,
    prompt_repeats: int = 1,
    phrasing_repeats: int = 0,
    finding_repeats: int = 0,
    test_prompt_repeats: int = 1,
) -> dict[str, Any]:
    """Make (or resume) the corpus; returns a summary (cases, utterances per split, seconds).

    ``speech_cases`` speaks only the first cases (all CT cases still serve the evaluation);
    ``prompt_templates`` speaks only the first prompt templates (fewer, cheaper utterances);
    ``prompt_repeats`` speaks each training prompt by that many voices,
    ``test_prompt_repeats`` each test prompt in every test split; ``phrasing_repeats`` > 0
    adds every query phrasing (:func:`phrasing_items`); ``finding_repeats`` > 0 every short
    finding (:func:`finding_items`).
    """
    from radvoice.data.corpus import CorpusSettings, build_corpus
    from radvoice.data.speech import plan_for_engines, summarize_speech, synthesize_corpus_audio

    out = Path(out)
    t0 = time.perf_counter()
    rows = build_corpus(out, n, CorpusSettings(seed=seed), workers=workers)
    rows = [r for r in rows if r["index"] < n]
    t_ct = time.perf_counter() - t0
    log.info(f"{len(rows)} CT cases in {t_ct:.0f} s")
    spoken_rows = rows if speech_cases is None else rows[:speech_cases]
    prompts = [
        p for p in prompt_items() if prompt_templates is None or p["template"] < prompt_templates
    ]
    phrases = phrasing_items(phrasing_repeats) if phrasing_repeats > 0 else []
    findings = finding_items(finding_repeats) if finding_repeats > 0 else []
    # short items first
    items = prompts + phrases + findings + case_items(out, spoken_rows, queries_per_case)
    write_items(items, out / SPEECH_DIR / ITEMS_NAME)
    plan = plan_for_engines(voices, seed)
    done = {"n": 0}

    def progress(count: int, total: int) -> None:
        if count - done["n"] >= 50 or count == total:
            done["n"] = count
            log.info(f"speech {count}/{total} ({time.perf_counter() - t0:.0f} s)")

    srows = synthesize_corpus_audio(
        to_speech_items(items, prompt_repeats, test_prompt_repeats),
        out / SPEECH_DIR,
        plan,
        seed=seed,
        workers=workers,
        max_seconds=max_seconds,
        progress=progress,
    )
    summary = {
        "cases": len(rows),
        "ct_seconds": round(t_ct, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "speech": summarize_speech(srows),
    }
    (out / SPEECH_DIR / "student_corpus_summary.json").write_text(
        json.dumps(summary, indent=1) + "\n", encoding="utf-8"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--voices", default="all")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--queries-per-case", type=int, default=2)
    p.add_argument("--speech-cases", type=int, help="speak only the first N cases")
    p.add_argument("--prompt-templates", type=int, help="speak only the first K prompt templates")
    p.add_argument("--prompt-repeats", type=int, default=1, help="voices per training prompt")
    p.add_argument(
        "--test-prompt-repeats",
        type=int,
        default=1,
        help="renditions of each zero-shot prompt per test split (each by a voice drawn anew)",
    )
    p.add_argument(
        "--phrasing-repeats", type=int, default=0, help="speak every query phrasing this often"
    )
    p.add_argument(
        "--finding-repeats", type=int, default=0, help="speak every short finding this often"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    summary = build_student_corpus(
        Path(args.out),
        args.n,
        args.seed,
        args.voices,
        args.workers,
        args.queries_per_case,
        speech_cases=args.speech_cases,
        prompt_templates=args.prompt_templates,
        prompt_repeats=args.prompt_repeats,
        phrasing_repeats=args.phrasing_repeats,
        finding_repeats=args.finding_repeats,
        test_prompt_repeats=args.test_prompt_repeats,
    )
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
