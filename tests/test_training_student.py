"""Speech-student training on a toy corpus: loss falls, export loads, resume, KD vs baseline, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.cli.main import main as cli_main
from radvoice.eval.student_dev import dev_zero_shot
from radvoice.nn.speech_student import SpeechStudent
from radvoice.testing.student_corpus import write_toy_student_corpus
from radvoice.training.cases import assign_splits
from radvoice.training.config import load_config
from radvoice.training.loop import CheckpointError
from radvoice.training.student import StudentSpec, load_student_data, train_student
from radvoice.training.student_data import FeatureCache, encoder_key
from radvoice.training.teacher import train_teacher
from radvoice.training.toy import toy_records


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    """A tiny teacher exported to ``<root>/teacher`` (registered in ``<root>/registry.json``)."""
    root = tmp_path_factory.mktemp("models")
    cfg = load_config("teacher_tiny")
    cfg.train.max_steps = 6
    recs = toy_records(16, seed=5)
    assign_splits(recs, 0.25, seed=0)
    train_teacher(cfg, recs, root / "run", progress=False, export_dir=root / "teacher")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_toy_student_corpus(tmp_path_factory.mktemp("corpus"), n=16, seed=1)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """Encoder features and teacher targets shared by the runs of this module."""
    return tmp_path_factory.mktemp("student_cache")


def _run(
    models_root: Path,
    corpus: Path,
    out: Path,
    steps: int,
    kd: bool = True,
    cache=None,
    loss: dict | None = None,
    seed: int = 0,
    dev_engines: list[str] | None = None,
    **kw,
):
    cfg = load_config("student_tiny")
    cfg.train.max_steps = steps
    cfg.train.seed = seed
    cfg.data.dev_engines = list(dev_engines or [])
    cfg.model["loss"] = {**cfg.model.get("loss", {}), **(loss or {})}
    if not kd:
        cfg.model["loss"] = {**cfg.model["loss"], "kd_weight": 0.0, "query_kd_weight": 0.0}
    utts, labels, loaders = load_student_data(str(corpus))
    return train_student(
        cfg,
        utts,
        labels,
        loaders,
        models_root / "teacher",
        out,
        cache_dir=out.parent / "cache",
        models_root=models_root,
        progress=False,
        dev_eval=dev_zero_shot,
        **kw,
    )


def test_corpus_reader_keeps_roles_and_splits(corpus: Path) -> None:
    utts, labels, loaders = load_student_data(str(corpus))
    kinds = {u.kind for u in utts}
    assert kinds == {"report", "query", "prompt"}
    assert {u.split for u in utts} == {"train", "val", "test_seen"}
    prompts = [u for u in utts if u.kind == "prompt"]
    assert all(u.label is not None and u.polarity in (0, 1) for u in prompts)
    assert set(labels) == set(loaders) and len(labels) == 16
    assert all(u.case_id in labels for u in utts if u.kind == "report")


def test_training_lowers_the_loss_and_exports_a_loadable_student(
    models_root, corpus, tmp_path, cache
):
    result = _run(models_root, corpus, tmp_path / "run", steps=16, cache=cache)
    first = np.mean([h["loss"] for h in result.history[:3]])
    last = np.mean([h["loss"] for h in result.history[-3:]])
    assert last < first - 0.05, (first, last)
    assert {"contrastive", "kd", "query_kd"} <= set(result.history[0])
    assert "step 16/16" in (tmp_path / "run" / "train.log").read_text()
    student = SpeechStudent.load(result.model_dir)  # SHA-256 checked
    audio = np.random.default_rng(0).standard_normal(16000 * 2).astype(np.float32) * 0.1
    emb = student.embed_audio(audio)
    assert emb.shape == (512,) and abs(float(np.linalg.norm(emb)) - 1.0) < 1e-4
    assert "r2v_R@1" in result.val and "query_top1" in result.val


def test_cached_features_equal_the_chunked_encoder(models_root, corpus, tmp_path):
    cfg = load_config("student_tiny")
    torch.manual_seed(0)
    student = StudentSpec.from_dict(cfg.model).build(models_root).eval()
    utts, _, _ = load_student_data(str(corpus))
    some = [u for u in utts if u.kind == "report"][:3]
    cache = FeatureCache(tmp_path, encoder_key(student))
    cache.ensure(student, some)
    with torch.no_grad():
        cached = student.forward_chunks(cache.chunks(some, torch.device("cpu")))
        from radvoice.audio import load_audio

        direct = torch.stack(
            [torch.from_numpy(student.embed_audio(load_audio(u.path))) for u in some]
        )
    assert torch.allclose(cached, direct, atol=2e-3)
    again = FeatureCache(tmp_path, encoder_key(student))  # read back from disk
    assert torch.equal(again.get(some[0])[0], cache.get(some[0])[0])


def test_baseline_has_no_distillation_terms(models_root, corpus, tmp_path, cache):
    result = _run(models_root, corpus, tmp_path / "nokd", steps=3, kd=False, cache=cache)
    assert set(result.history[0]) >= {"contrastive", "loss"}
    assert "kd" not in result.history[0] and "query_kd" not in result.history[0]


def test_zero_shot_distillation_term_is_logged_and_trains(models_root, corpus, tmp_path, cache):
    result = _run(
        models_root, corpus, tmp_path / "zs", steps=4, cache=cache, loss={"zeroshot_kd_weight": 2.0}
    )
    values = [h["zeroshot_kd"] for h in result.history]
    assert all(np.isfinite(values)) and max(values) > 0
    plain = _run(models_root, corpus, tmp_path / "plain", steps=1, cache=cache)
    assert "zeroshot_kd" not in plain.history[0]


def test_zero_shot_metric_caps_add_up(models_root, corpus, tmp_path, cache):
    from radvoice.training.config import ConfigError
    from radvoice.training.student import StudentLoss

    def first(name: str, caps: list[float]) -> dict[str, float]:
        loss = {"zeroshot_kd_weight": 1.0, "zeroshot_metric_caps": caps}
        result = _run(models_root, corpus, tmp_path / name, steps=1, cache=cache, loss=loss)
        return result.history[0]

    plain, capped, both = first("p", [1.0]), first("c", [0.01]), first("b", [1.0, 0.01])
    # same first batch and weights: the summed metric's term is the sum of the two terms
    assert capped["zeroshot_kd"] != pytest.approx(plain["zeroshot_kd"])
    assert both["zeroshot_kd"] == pytest.approx(plain["zeroshot_kd"] + capped["zeroshot_kd"])
    for bad in ([], [0.0], [1.5]):
        with pytest.raises(ConfigError, match="zeroshot_metric_caps"):
            StudentLoss(zeroshot_metric_caps=bad)


def test_metric_data_adds_a_domain_to_the_zero_shot_metric(models_root, corpus, tmp_path, cache):
    from radvoice.errors import RadVoiceError
    from radvoice.training.student import metric_loaders

    cfg = load_config("student_tiny")
    extra = metric_loaders("toy:12", cfg, taken=set())
    assert 2 <= len(extra) <= 12
    loss = {"zeroshot_kd_weight": 1.0}
    plain = _run(models_root, corpus, tmp_path / "p", steps=1, cache=cache, loss=loss)
    mixed = _run(
        models_root,
        corpus,
        tmp_path / "m",
        steps=1,
        cache=cache,
        loss=loss,
        metric_sources={"toy:12": extra},
    )
    # same first batch and weights: only the metric differs
    assert mixed.history[0]["contrastive"] == pytest.approx(plain.history[0]["contrastive"])
    assert mixed.history[0]["zeroshot_kd"] != pytest.approx(plain.history[0]["zeroshot_kd"])
    info = json.loads((tmp_path / "m" / "model" / "training.json").read_text())
    assert info["metric_data"] == ["toy:12"]
    assert "zero-shot metric: " in (tmp_path / "m" / "train.log").read_text()
    _, _, loaders = load_student_data(str(corpus))
    with pytest.raises(RadVoiceError, match="also in the student corpus"):
        metric_loaders(str(corpus), cfg, taken=set(loaders))


def test_validation_scores_spoken_zero_shot_on_unspoken_cases(models_root, tmp_path):
    corpus = write_toy_student_corpus(tmp_path / "corpus", n=16, seed=1, unspoken=12)
    result = _run(models_root, corpus, tmp_path / "run" / "dev", steps=2)
    assert 0.0 <= result.val["zs_dev"] <= 1.0 and 0.0 <= result.val["zs_dev_text"] <= 1.0
    utts, _, loaders = load_student_data(str(corpus))
    spoken = {u.case_id for u in utts if u.case_id}
    assert len(set(loaders) - spoken) == 12  # the dev CTs never appear in speech
    plain = _run(
        models_root, corpus_without_val_prompts(corpus, tmp_path), tmp_path / "r2" / "p", 1
    )
    assert "zs_dev" not in plain.val


def test_a_dev_engine_is_left_out_of_training_and_scores_its_prompts(models_root, tmp_path):
    from radvoice.errors import RadVoiceError

    corpus = write_toy_student_corpus(tmp_path / "corpus", n=16, seed=1, unspoken=12)
    manifest = corpus / "speech" / "speech_manifest.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    for i, r in enumerate(rows):
        if r["split"] == "train" and (r["item_id"].startswith("prompt_") or i % 2):
            r["engine"] = "other"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = [r for r in rows if r["split"] == "train" and r["engine"] == "toy"]
    n_reports = sum(r["item_id"].endswith("_report") for r in kept)
    n_queries = len(kept) - n_reports
    result = _run(models_root, corpus, tmp_path / "run" / "d", steps=2, dev_engines=["other"])
    log = (tmp_path / "run" / "d" / "train.log").read_text()
    assert f"{n_reports} train reports, {n_queries} train queries/prompts" in log
    assert 0.0 <= result.val["zs_dev_engine"] <= 1.0
    assert -1.0 <= result.val["cos_dev_engine"] <= 1.0
    assert 0.0 <= result.val["zs_dev"] <= 1.0
    with pytest.raises(RadVoiceError, match="no training prompts spoken by dev engine"):
        _run(models_root, corpus, tmp_path / "run" / "x", steps=1, dev_engines=["nobody"])


def test_cli_ensembles_seeds_and_validates_the_ensemble(models_root, tmp_path, capsys):
    import os

    corpus = write_toy_student_corpus(tmp_path / "corpus", n=16, seed=1, unspoken=12)
    # the toy students' random encoders come from the seed: vary the steps to vary the heads
    dirs = [
        _run(models_root, corpus, tmp_path / f"s{steps}" / "run", steps=steps).model_dir
        for steps in (2, 3)
    ]
    reseeded = _run(models_root, corpus, tmp_path / "seed1" / "run", steps=2, seed=1).model_dir
    os.environ["RADVOICE_MODELS"] = str(models_root)
    try:
        out = tmp_path / "ens"
        argv = ["ensemble", *map(str, dirs), "--out", str(out), "--data", str(corpus)]
        assert cli_main([*argv, "--teacher", str(models_root / "teacher")]) == 0
        assert "ensemble of 2 heads" in capsys.readouterr().out
        info = json.loads((out / "training.json").read_text())
        assert info["members"] == 2 and 0.0 <= info["val"]["zs_dev"] <= 1.0
        assert [m["training"]["steps"] for m in info["ensemble_of"]] == [2, 3]
        ens = SpeechStudent.load(out)
        members = [SpeechStudent.load(d) for d in dirs]
        assert ens.config.members == 2 and ens.teacher_sha256 == members[0].teacher_sha256
        assert cli_main(["ensemble", str(dirs[0]), "--out", str(tmp_path / "one")]) == 2
        assert cli_main(["ensemble", str(dirs[0]), str(tmp_path / "nope"), "--out", "x"]) == 2
        assert cli_main(["ensemble", str(dirs[0]), str(reseeded), "--out", str(out / "r")]) == 2
        assert not (tmp_path / "one").exists() and not (out / "r").exists()
        assert "different encoder weights" in capsys.readouterr().err
    finally:
        del os.environ["RADVOICE_MODELS"]


def test_cli_trains_the_question_head_into_a_student_copy(models_root, corpus, tmp_path, capsys):
    student = _run(models_root, corpus, tmp_path / "s" / "run", steps=2).model_dir
    out = tmp_path / "with_question"
    argv = ["train", "question", "--student", str(student), "--data", str(corpus)]
    assert cli_main([*argv, "--out", str(out), "--max-steps", "30"]) == 0
    report = json.loads((out / "training.json").read_text())["question_head"]
    assert report["steps"] == 30 and report["train_utterances"] > 0
    assert 0.0 <= report["val"]["questions"] <= 1.0
    loaded = SpeechStudent.load(out)
    assert loaded.question is not None and SpeechStudent.load(student).question is None
    original = SpeechStudent.load(student)
    audio = np.random.default_rng(0).normal(0, 0.1, 16000 * 2).astype(np.float32)
    np.testing.assert_allclose(loaded.embed_audio(audio), original.embed_audio(audio), atol=1e-5)
    capsys.readouterr()
    assert cli_main([*argv]) == 2  # no --out
    assert cli_main(["train", "question", "--data", str(corpus), "--out", str(out)]) == 2
    assert cli_main(["train", "student", "--data", str(corpus)]) == 2  # no --config
    assert "needs" in capsys.readouterr().err


def corpus_without_val_prompts(corpus: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "noval"
    shutil.copytree(corpus, copy)
    manifest = copy / "speech" / "speech_manifest.jsonl"
    rows = [r for r in manifest.read_text().splitlines() if '"prompt_' not in r or '_val"' not in r]
    manifest.write_text("\n".join(rows) + "\n")
    return copy


def test_resume_continues_where_it_stopped(models_root, corpus, tmp_path, cache):
    full = _run(models_root, corpus, tmp_path / "a", steps=6, cache=cache)
    _run(models_root, corpus, tmp_path / "b", steps=6, cache=cache, stop_after=3)
    resumed = _run(models_root, corpus, tmp_path / "b", steps=6, resume=True, cache=cache)
    assert resumed.step == 6
    assert [h["step"] for h in resumed.history] == list(range(1, 7))
    np.testing.assert_allclose(
        [h["loss"] for h in resumed.history[3:]], [h["loss"] for h in full.history[3:]], rtol=1e-4
    )
    with pytest.raises(CheckpointError):
        _run(models_root, corpus, tmp_path / "none", steps=2, resume=True, cache=cache)


def test_cli_trains_a_student_and_rejects_bad_input(models_root, corpus, tmp_path, capsys):
    cfg = json.loads(Path("radvoice/configs/student_tiny.json").read_text())
    cfg["train"]["max_steps"] = 2
    (tmp_path / "s.json").write_text(json.dumps(cfg))
    import os

    os.environ["RADVOICE_MODELS"] = str(models_root)
    try:
        argv = ["train", "student", "--config", str(tmp_path / "s.json"), "--data", str(corpus)]
        assert (
            cli_main(
                [
                    *argv,
                    "--out",
                    str(tmp_path / "cli"),
                    "--teacher",
                    str(models_root / "teacher"),
                    "--no-progress",
                ]
            )
            == 0
        )
        assert (tmp_path / "cli" / "model" / "model.safetensors").is_file()
        assert cli_main([*argv[:-1], str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
        assert (
            cli_main(
                [
                    "train",
                    "student",
                    "--config",
                    "teacher_tiny",
                    "--data",
                    str(corpus),
                    "--out",
                    str(tmp_path / "y"),
                ]
            )
            == 2
        )
    finally:
        del os.environ["RADVOICE_MODELS"]
    err = capsys.readouterr().err
    assert "data folder not found" in err and "not a student" in err
