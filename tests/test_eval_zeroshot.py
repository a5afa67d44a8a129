"""``radvoice eval``: gap recovery, spoken-prompt averaging, the table/report, and an end-to-end
run on a toy corpus with tiny models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.cli.main import main as cli_main
from radvoice.eval.eval_sets import CaseSet, EvalDataError
from radvoice.eval.zeroshot_eval import gap_recovery, gap_recovery_interval, speech_prompts
from radvoice.labels import PATHOLOGIES
from radvoice.testing.student_corpus import write_toy_student_corpus
from radvoice.training.cases import assign_splits
from radvoice.training.config import load_config
from radvoice.training.student import StudentSpec
from radvoice.training.student_data import Utterance
from radvoice.training.teacher import train_teacher
from radvoice.training.toy import toy_records


def test_gap_recovery_formula() -> None:
    assert gap_recovery(0.9, 0.7, 0.88) == pytest.approx(0.9)
    assert gap_recovery(0.9, 0.7, 0.7) == pytest.approx(0.0)
    assert gap_recovery(0.9, 0.7, 0.95) == pytest.approx(1.25)
    assert math.isnan(gap_recovery(0.8, 0.8, 0.85))
    assert math.isnan(gap_recovery(0.65, 0.70, 0.57))  # no gap to close (e.g. lung2)
    assert math.isnan(gap_recovery(float("nan"), 0.7, 0.8))


def test_speech_prompts_average_per_label_and_polarity() -> None:
    utts, rows = [], []
    rng = np.random.default_rng(0)
    for label in PATHOLOGIES:
        for polarity in (1, 0):
            for t in range(2):
                utts.append(
                    Utterance(
                        f"{label}{polarity}{t}",
                        Path("x"),
                        "prompt",
                        "t",
                        "test_seen",
                        label=label,
                        polarity=polarity,
                        template=t,
                    )
                )
                rows.append(rng.standard_normal(8))
    emb = torch.nn.functional.normalize(torch.tensor(np.array(rows), dtype=torch.float32), dim=-1)
    prompts = speech_prompts(utts, emb)
    assert prompts.shape == (18, 2, 8)
    expected = torch.nn.functional.normalize(emb[0] + emb[1], dim=0)  # label 0, "present"
    assert torch.allclose(prompts[0, 0], expected, atol=1e-6)
    expected_neg = torch.nn.functional.normalize(emb[2] + emb[3], dim=0)
    assert torch.allclose(prompts[0, 1], expected_neg, atol=1e-6)
    with pytest.raises(EvalDataError, match="no spoken prompt"):
        speech_prompts(utts[:-2], emb[:-2])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    cfg = load_config("teacher_tiny")
    cfg.train.max_steps = 2
    recs = toy_records(12, seed=4)
    assign_splits(recs, 0.25, seed=0)
    train_teacher(cfg, recs, root / "run", progress=False, export_dir=root / "teacher")
    for i, name in enumerate(("student", "student_nokd")):
        torch.manual_seed(i)
        StudentSpec.from_dict(load_config("student_tiny").model).build(root).save(root / name)
    corpus = write_toy_student_corpus(tmp_path_factory.mktemp("corpus"), n=24, seed=2)
    return root, corpus


def test_eval_cli_end_to_end_on_toy_data(setup, tmp_path, capsys) -> None:
    models, corpus = setup
    argv = [
        "eval",
        "--models",
        str(models),
        "--data",
        str(corpus),
        "--eval-data",
        str(corpus),
        "--no-cascade",
        "--conditions",
        "seen,noise_10db",
        "--out",
        str(tmp_path / "out"),
    ]
    assert cli_main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["systems"] == ["text", "speech_nokd", "speech_kd"]
    assert result["conditions"] == ["seen", "noise_10db"]
    assert result["info"]["cascade_whisper"] is None  # no cascade, no cascade size claimed
    retrieval = result["info"]["teacher_retrieval"]  # typed reports of the whole test set
    assert set(retrieval["r2v_recall"]) == {"1", "5", "10", "50"}
    assert set(retrieval["v2v_jaccard"]) == {"1", "5", "10"}
    assert all(0.0 <= v <= 1.0 for v in retrieval["v2v_jaccard"].values())
    assert retrieval["chance"]["r2v_recall"]["1"] == pytest.approx(1 / retrieval["n"])
    for system in result["systems"]:
        for cond in result["conditions"]:
            cell = result["results"][system][cond]
            assert 0.0 <= cell["macro"]["auroc"] <= 1.0
            assert set(cell["per_class_auroc"]) == set(PATHOLOGIES)
            per_class = cell["per_class"]  # the CT-CLIP threshold metrics, per class and macro
            assert set(per_class) == set(PATHOLOGIES)
            for k in ("weighted_f1", "accuracy", "precision"):
                assert all(0.0 <= m[k] <= 1.0 for m in per_class.values())
                mean = np.mean([m[k] for m in per_class.values()])
                assert cell["macro"][k] == pytest.approx(mean)
            assert 0.0 <= cell["query_top1"] <= cell["query_shown"] <= 1.0
            assert cell["retrieval"]["n"] >= 2
            routed = cell["routed_as_question"]  # what the app takes for a question, per kind
            assert {"questions", "report_parts"} <= set(routed)
            assert all(0.0 <= v <= 1.0 for v in routed.values())
    text = result["results"]["text"]
    kd = result["results"]["speech_kd"]
    nokd = result["results"]["speech_nokd"]
    expect = gap_recovery(
        text["seen"]["macro"]["auroc"], nokd["seen"]["macro"]["auroc"], kd["seen"]["macro"]["auroc"]
    )
    got = result["gap_recovery"]["seen"]
    assert got is None if math.isnan(expect) else got == pytest.approx(expect)
    for cond in result["conditions"]:  # a case-bootstrap interval per column
        ci = result["gap_recovery_ci"][cond]
        assert 0.0 <= ci["undefined"] <= 1.0
        if ci["low"] is not None:
            assert ci["low"] <= ci["high"]
    out = tmp_path / "out"
    md = (out / "eval.md").read_text()
    assert "| text teacher |" in md and "gap recovery" in md and "roc_curves.png" in md
    assert "| as question: questions / prompts / findings / report parts |" in md
    assert "| volume → volume label Jaccard@5 |" in md and "| report → volume R@50 |" in md
    assert "| weighted F1 / accuracy / precision |" in md
    assert "## Per-class weighted F1 / accuracy / precision (training voices)" in md
    png = (out / "roc_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # the noisy condition really re-encoded noisy audio: its cache differs from the clean one
    caches = sorted(p.name for p in (corpus / "cache").iterdir() if p.name.startswith("feat_"))
    assert any(n.endswith("_clean") for n in caches) and any(n.endswith("_snr10") for n in caches)
    assert cli_main(argv) == 0
    table = capsys.readouterr().out
    assert "macro AUROC" in table and "speech, KD" in table and "noise 10 dB SNR" in table
    assert (out / "table.txt").read_text() in table  # the printed table, saved with the report


def test_eval_cli_bad_input_is_one_line(setup, tmp_path, capsys) -> None:
    models, corpus = setup
    code = cli_main(
        [
            "eval",
            "--models",
            str(models),
            "--data",
            str(tmp_path / "none"),
            "--eval-data",
            str(corpus),
            "--no-cascade",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("radvoice: error:") and "not found" in err[-1]
    code = cli_main(
        ["eval", "--models", str(models), "--data", str(corpus), "--conditions", "moon"]
    )
    assert code == 2 and "unknown condition" in capsys.readouterr().err


def test_gap_recovery_interval_brackets_the_estimate_or_says_undefined() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (120, 4))
    cases = CaseSet("t", [str(i) for i in range(120)], y, np.ones_like(y, dtype=bool))
    text = y + rng.normal(0, 0.5, y.shape)
    nokd = rng.normal(0, 1, y.shape)  # chance
    kd = y + rng.normal(0, 0.7, y.shape)
    ci = gap_recovery_interval(cases, [text, nokd, kd], n_boot=100)
    from radvoice.metrics import macro_auroc

    point = gap_recovery(*(macro_auroc(y, p) for p in (text, nokd, kd)))
    assert ci["undefined"] == 0.0 and ci["low"] < point < ci["high"] < 1.0
    same = gap_recovery_interval(cases, [nokd, nokd, kd], n_boot=50)  # no gap to recover
    assert same["undefined"] == 1.0 and math.isnan(same["low"]) and math.isnan(same["high"])


def test_renditions_are_parsed_from_utterance_ids() -> None:
    from radvoice.eval.zeroshot_eval import rendition, rendition_groups

    ids = ["prompt_000_test.test_seen", "prompt_000_test_r2.test_seen", "prompt_001_test_r1"]
    utts = [Utterance(i, Path("x"), "prompt", "t", "test_seen") for i in ids]
    assert [rendition(u) for u in utts] == [0, 2, 1]
    assert rendition_groups(utts) == [[0], [2], [1]]


def test_gap_interval_of_identical_renditions_equals_one_rendition() -> None:
    from radvoice.eval.eval_sets import CaseSet
    from radvoice.eval.zeroshot_eval import gap_recovery_interval

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (60, 18))
    cases = CaseSet("t", [f"c{i}" for i in range(60)], labels, np.ones_like(labels, bool))
    text, nokd, kd = (labels + rng.normal(0, s, labels.shape) for s in (0.5, 2.0, 0.7))
    one = gap_recovery_interval(cases, [text, nokd, kd], n_boot=50)
    two = gap_recovery_interval(cases, [text, [nokd, nokd], [kd, kd]], n_boot=50)
    assert one == pytest.approx(two)
    other = gap_recovery_interval(cases, [text, [nokd, nokd], [kd, nokd]], n_boot=50)
    assert other["high"] < one["high"]  # a rendition as bad as no-KD halves the recovery


def test_eval_averages_classifiers_over_spoken_renditions(setup, tmp_path, capsys) -> None:
    import shutil

    models, corpus = setup
    twice = tmp_path / "corpus"
    shutil.copytree(corpus, twice, ignore=shutil.ignore_patterns("cache"))
    manifest = twice / "speech" / "speech_manifest.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    prompts = [r for r in rows if r["split"] == "test_seen" and r["item_id"].startswith("prompt")]
    for r, other in zip(prompts, prompts[1:] + prompts[:1], strict=True):
        # a second rendition of every test prompt, with another prompt's audio
        rows.append(
            {**r, "id": r["id"] + "_r1", "item_id": r["item_id"] + "_r1", "path": other["path"]}
        )
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(data: Path) -> dict:
        argv = ["eval", "--models", str(models), "--data", str(data), "--eval-data", str(data)]
        argv += ["--no-cascade", "--conditions", "seen", "--out", str(tmp_path / data.name)]
        assert cli_main([*argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    single, double = run(corpus), run(twice)
    for system in ("speech_nokd", "speech_kd"):
        one, two = single["results"][system]["seen"], double["results"][system]["seen"]
        assert one["renditions"] == 1 and two["renditions"] == 2
        assert two["n_prompts"] == 2 * one["n_prompts"]
        # the first rendition alone is the one-rendition protocol, exactly
        assert two["auroc_first_rendition"] == pytest.approx(one["macro"]["auroc"])
        assert two["macro"]["auroc"] != pytest.approx(one["macro"]["auroc"])
    text = double["results"]["text"]["seen"]
    assert text["renditions"] == 1
    assert text["macro"] == pytest.approx(single["results"]["text"]["seen"]["macro"])
    md = (tmp_path / "corpus" / "table.txt").read_text()
    assert "spoken renditions averaged" in md and "first rendition: KD / gap rec." in md


def test_cell_embedder_computes_each_utterance_once() -> None:
    from radvoice.eval.zeroshot_eval import _remembering

    calls: list[list[str]] = []

    def embed(us: list[Utterance]) -> torch.Tensor:
        calls.append([u.utt_id for u in us])
        return torch.tensor([[float(u.utt_id[1:]), 1.0] for u in us])

    u = [Utterance(f"u{i}", Path("x"), "prompt", "t", "test_seen") for i in range(4)]
    cached = _remembering(embed)
    assert cached(u[:3]).tolist() == [[0, 1], [1, 1], [2, 1]]
    again = cached([u[2], u[3], u[0], u[3]])
    assert again.tolist() == [[2, 1], [3, 1], [0, 1], [3, 1]]
    assert calls == [["u0", "u1", "u2"], ["u3"]]
