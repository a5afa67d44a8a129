"""Query-phrasing supervision (teacher), prototype distillation (student), spoken phrasings in the
student corpus, and the parallel synthetic prefill."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radvoice.data.queries import ALL_QUERIES
from radvoice.labels import PATHOLOGIES
from radvoice.nn.clip import ClipDims, CTClip
from radvoice.nn.losses import query_loss
from radvoice.training.cases import assign_splits
from radvoice.training.config import load_config
from radvoice.training.student import prototype_kd
from radvoice.training.student_corpus import phrasing_items, query_held_out, to_speech_items
from radvoice.training.teacher import _query_data, train_teacher
from radvoice.training.toy import toy_records


def test_query_loss_prefers_the_right_prototype() -> None:
    protos = F.normalize(torch.eye(4, 8), dim=-1)
    right = query_loss(protos[[0, 1, 2]], protos, torch.tensor([0, 1, 2]), 10.0)
    wrong = query_loss(protos[[0, 1, 2]], protos, torch.tensor([1, 2, 3]), 10.0)
    assert float(right) < 0.01 < 1.0 < float(wrong)


def test_prototype_kd_is_zero_only_when_student_agrees() -> None:
    protos = F.normalize(torch.randn(18, 32), dim=-1)
    teacher = protos[[3, 7]] + 0.01 * torch.randn(2, 32)
    assert float(prototype_kd(teacher, teacher, protos, 0.05)) < 1e-6
    assert float(prototype_kd(protos[[4, 9]], teacher, protos, 0.05)) > 1.0


def test_phrasings_split_by_text_and_repeat_only_in_train() -> None:
    items = phrasing_items(repeats=2)
    texts = {t for t, _ in ALL_QUERIES}
    held = {t for t in texts if query_held_out(t)}
    assert 0.08 < len(held) / len(texts) < 0.25
    for it in items:
        assert it["text_split"] == ("test" if it["text"] in held else "train")
        assert it["label"] in PATHOLOGIES
    assert len(items) == 2 * (len(texts) - len(held)) + len(held)
    speech = to_speech_items(items[:5], prompt_repeats=3)
    assert [s.text_split for s in speech] == [i["text_split"] for i in items[:5]]


def test_prompt_repeats_give_distinct_train_ids() -> None:
    from radvoice.training.student_corpus import prompt_items

    speech = to_speech_items(prompt_items()[:1], prompt_repeats=3)
    ids = [s.id for s in speech]
    assert ids == [
        "prompt_000_train",
        "prompt_000_train_r1",
        "prompt_000_train_r2",
        "prompt_000_val",  # once by the val voices: the spoken zero-shot development set
        "prompt_000_test",
    ]
    # several renditions per test split: the first keeps its old id (a corpus extends in place)
    speech = to_speech_items(prompt_items()[:1], prompt_repeats=1, test_prompt_repeats=3)
    ids = [s.id for s in speech]
    assert ids == [
        "prompt_000_train",
        "prompt_000_val",
        "prompt_000_test",
        "prompt_000_test_r1",
        "prompt_000_test_r2",
    ]
    assert {s.text_split for s in speech[2:]} == {"test"}


def test_teacher_learns_query_phrasings(tmp_path: Path) -> None:
    """Held-out phrasings ("any enlarged nodes?" …) reach their pathology after a short run."""
    recs = toy_records(16, seed=5)
    assign_splits(recs, 0.25, seed=0)
    cfg = load_config("teacher_tiny")
    cfg.model["loss"]["query_weight"] = 1.0
    cfg.model["loss"]["query_batch"] = 64
    cfg.train.max_steps = 40
    cfg.train.num_threads = 2
    clip = CTClip(ClipDims.from_dict(cfg.model))
    q = _query_data(clip, tmp_path / "cache")
    assert len(q.val_idx) > 50 and len(q.train_idx) > 4 * len(q.val_idx)
    result = train_teacher(
        cfg, recs, tmp_path / "run", cache_dir=tmp_path / "cache", progress=False
    )
    log = (tmp_path / "run" / "train.log").read_text()
    before = float(log.split("queries at step 0: query_top1_val ")[1].split()[0])
    after = float(log.split("final query eval: query_top1_val ")[1].split()[0])
    assert after > before and after >= 0.9, (before, after)
    assert "query" in result.history[-1]


@pytest.mark.slow
def test_prefill_generates_in_parallel_and_resumes(tmp_path: Path) -> None:
    from radvoice.nn.grid import ModelGrid
    from radvoice.training.prefill import INDEX_NAME, prefill_synthetic
    from radvoice.training.sources import synthetic_records

    grid = ModelGrid(size=(32, 32, 16), spacing=(11.0, 11.0, 20.0))
    assert prefill_synthetic(4, 7, tmp_path, grid, workers=2, progress=False) == 4
    assert prefill_synthetic(4, 7, tmp_path, grid, workers=2, progress=False) == 0
    rows = [json.loads(x) for x in (tmp_path / INDEX_NAME).read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == [0, 1, 2, 3]
    assert len(list((tmp_path).glob("grid_*/*.npy"))) == 4

    def boom(*_a):
        raise AssertionError("a prefilled case was generated again")

    recs = synthetic_records(4, 7, on_volume=boom, index_file=tmp_path / INDEX_NAME)
    assert [r.case_id for r in recs] == [
        r["case_id"] for r in sorted(rows, key=lambda r: r["index"])
    ]


def test_question_share_sets_the_mix_of_each_query_batch() -> None:
    from radvoice.training.student import query_batch_indices
    from radvoice.training.student_data import Utterance

    items = [
        Utterance(f"u{i}", Path("x.wav"), "query" if i < 10 else "prompt", "t", "train")
        for i in range(40)
    ]
    is_question = np.array([u.kind == "query" for u in items])
    for step in range(5):
        idx = query_batch_indices(is_question, 16, step, 0, 0.75)
        kinds = [items[i].kind for i in idx]
        assert len(idx) == 16 and kinds.count("query") == 12
        assert "query" in kinds[:8] and "query" in kinds[8:]  # both DDP halves get questions
    uniform = np.concatenate([query_batch_indices(is_question, 16, s, 0, 0.0) for s in range(5)])
    assert sorted(uniform.tolist()) == sorted(list(range(40)) * 2)  # two epochs, each item twice


def test_short_findings_are_statements_with_a_held_out_share() -> None:
    from radvoice.assistant.intent import text_question_probability
    from radvoice.training.student_corpus import finding_items, finding_texts, telegraphic

    assert telegraphic("There is a small left pleural effusion.") == "Small left pleural effusion."
    assert telegraphic("Cardiac enlargement is noted.") == "Cardiac enlargement."
    texts = finding_texts()
    assert len(texts) > 100 and {label for _, label in texts} == set(PATHOLOGIES)
    assert all(len(t.split()) > 2 and "{" not in t for t, _ in texts)
    assert all(text_question_probability(t) == 0.0 for t, _ in texts)  # typed, all statements
    items = finding_items(repeats=3)
    held = {i["text"] for i in items if i["text_split"] == "test"}
    trained = {i["text"] for i in items if i["text_split"] == "train"}
    assert held and not held & trained and 0.05 < len(held) / len(texts) < 0.3
    assert len(items) == len(held) + 3 * len(trained)
    assert all(i["kind"] == "finding" and i["case_id"] is None for i in items)


def test_question_head_batches_balance_the_kinds() -> None:
    from radvoice.training.question_head import kind_balanced

    kinds = ["query"] * 10 + ["prompt"] * 80 + ["finding"] * 5 + ["report"] * 5
    p = kind_balanced(kinds)
    k = np.array(kinds)
    assert p.sum() == pytest.approx(1.0)
    assert p[k == "query"].sum() == pytest.approx(0.5)
    for kind in ("prompt", "finding", "report"):
        assert p[k == kind].sum() == pytest.approx(0.5 / 3)
    no_findings = kind_balanced(["query", "prompt", "report"])
    assert no_findings.tolist() == pytest.approx([0.5, 0.25, 0.25])
