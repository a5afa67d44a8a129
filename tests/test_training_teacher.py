"""The tiny teacher config trains end-to-end in seconds; resume, export, registry and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.cli.main import main as cli_main
from radvoice.labels import PATHOLOGIES
from radvoice.nn.clip import ClipDims, CTClip, load_teacher
from radvoice.nn.registry import ModelIntegrityError
from radvoice.nn.zeroshot import prompt_texts
from radvoice.training.cases import GridCache, assign_splits
from radvoice.training.config import load_config
from radvoice.training.export import publish_model
from radvoice.training.loop import CheckpointError, batch_indices
from radvoice.training.teacher import train_teacher
from radvoice.training.teacher_eval import evaluate_model_dir
from radvoice.training.text_cache import cached_features
from radvoice.training.toy import toy_records


@pytest.fixture(scope="module")
def records():
    recs = toy_records(32, seed=3)
    assign_splits(recs, 0.25, seed=0)
    return recs


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """Grid volumes and MiniLM features shared by the runs of this module."""
    return tmp_path_factory.mktemp("teacher_cache")


def _cfg(steps: int):
    cfg = load_config("teacher_tiny")
    cfg.train.max_steps = steps
    cfg.train.num_threads = 2
    return cfg


def _train_loss(clip: CTClip, recs, cache: GridCache, folder: Path) -> float:
    """Contrastive + disease loss of the whole training split in one batch (no augmentation)."""
    train = [r for r in recs if r.split == "train"]
    clip.eval()
    with torch.no_grad():
        ct = clip.encode_ct(torch.stack([cache.get(r.case_id) for r in train]))
        txt = clip.encode_text([r.report for r in train])
        feats = cached_features(clip.text, prompt_texts(), folder, "prompts")
        prompts = clip.prompt_embeddings(feats, len(PATHOLOGIES))
        labels = torch.from_numpy(np.stack([r.labels for r in train])).float()
        return float(clip.losses(ct, txt, labels, prompts)["loss"])


def test_tiny_training_lowers_the_loss_and_exports(records, cache, tmp_path: Path) -> None:
    cfg = _cfg(16)
    dims = ClipDims.from_dict(cfg.model)
    grids = GridCache(cache, dims.grid)
    for r in records:
        grids.ensure(r)
    torch.manual_seed(cfg.train.seed)
    before = _train_loss(CTClip(dims), records, grids, cache)  # same init as training
    result = train_teacher(cfg, records, tmp_path / "run", cache_dir=cache, progress=False)
    assert result.step == 16 and len(result.history) == 16
    assert (tmp_path / "run" / "train.log").read_text().count("step ") >= 4
    bundle = load_teacher(result.model_dir)
    after = _train_loss(bundle.clip, records, grids, cache)
    assert after < before - 0.1, (before, after)
    assert bundle.prompts.shape == (len(PATHOLOGIES), 2, 512)
    assert bundle.query_prototypes is not None and bundle.query_prototypes.shape == (18, 512)
    cfg_json = json.loads((result.model_dir / "config.json").read_text())
    assert set(cfg_json["thresholds"]) == set(PATHOLOGIES)
    assert cfg_json["dims"]["grid"]["size"] == [32, 32, 16]
    registry = json.loads((result.model_dir.parent / "registry.json").read_text())
    assert registry["model/model.safetensors"] and registry["model/config.json"]


def test_resume_gives_the_same_next_steps(records, cache, tmp_path: Path) -> None:
    kw = {"cache_dir": cache, "progress": False}
    straight = train_teacher(_cfg(4), records, tmp_path / "a", **kw)
    train_teacher(_cfg(2), records, tmp_path / "b", **kw)
    resumed = train_teacher(_cfg(4), records, tmp_path / "b", resume=True, **kw)
    assert resumed.step == 4
    a = [h["loss"] for h in straight.history]
    b = [h["loss"] for h in resumed.history]
    assert len(b) == 4
    assert np.allclose(a, b, rtol=1e-4, atol=1e-5), (a, b)


def test_registry_rejects_corrupt_or_unregistered_weights(records, cache, tmp_path: Path) -> None:
    result = train_teacher(_cfg(1), records, tmp_path / "run", cache_dir=cache, progress=False)
    published = publish_model(result.model_dir, tmp_path / "models" / "teacher")
    assert [p.name for p in published] == ["config.json", "model.safetensors"]
    bundle = load_teacher(tmp_path / "models" / "teacher", with_text=False)
    assert bundle.thresholds.shape == (18,)
    held_out = evaluate_model_dir(tmp_path / "models" / "teacher", records[:8], cache)
    assert np.array_equal(held_out.thresholds, bundle.thresholds)  # the model's, not refitted
    assert held_out.metrics["n_cases"] == 8 and held_out.probabilities.shape == (8, 18)
    weights = result.model_dir / "model.safetensors"
    good = weights.read_bytes()
    data = bytearray(good)
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load_teacher(result.model_dir)
    weights.unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_teacher(result.model_dir)
    weights.write_bytes(good)
    load_teacher(result.model_dir, with_text=False)  # intact again
    (result.model_dir.parent / "registry.json").write_text("{}")
    with pytest.raises(ModelIntegrityError, match="not listed"):
        load_teacher(result.model_dir)


def test_resume_without_checkpoint_is_a_clear_error(records, cache, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train_teacher(_cfg(2), records, tmp_path / "none", resume=True, cache_dir=cache)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        train_teacher(_cfg(2), records, bad, resume=True, cache_dir=cache)


def test_batches_cover_each_epoch_once() -> None:
    seen = np.concatenate([batch_indices(10, 4, s, seed=1) for s in range(5)])
    assert sorted(seen[:10].tolist()) == list(range(10))
    assert sorted(seen[10:20].tolist()) == list(range(10))
    assert not np.array_equal(seen[:10], seen[10:20])


def test_cli_trains_and_reports_bad_input(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli"
    code = cli_main(
        [
            "train",
            "teacher",
            "--config",
            "teacher_tiny",
            "--data",
            "toy:16",
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    assert (out / "model" / "model.safetensors").is_file()
    assert (out / "checkpoint.pt").is_file()
    assert (
        cli_main(["train", "teacher", "--config", "teacher_tiny", "--data", str(tmp_path / "nope")])
        == 2
    )
    assert "data folder not found" in capsys.readouterr().err
    assert (
        cli_main(["train", "teacher", "--config", str(tmp_path / "x.json"), "--data", "toy:8"]) == 2
    )
    bad_cfg = tmp_path / "bad.json"
    bad_cfg.write_text(json.dumps({"train": {"bogus": 1}}))
    assert cli_main(["train", "teacher", "--config", str(bad_cfg), "--data", "toy:8"]) == 2
    assert "bogus" in capsys.readouterr().err
    two = ["--data", "toy:8", "--data", "toy:9"]
    assert cli_main(["train", "student", "--config", "student_tiny", *two]) == 2
    assert "one --data" in capsys.readouterr().err
