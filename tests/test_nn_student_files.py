"""Speech-student checkpoints that reference the Whisper encoder (name + SHA-256) or copy it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from radvoice.nn.registry import ModelIntegrityError, save_model, sha256_file
from radvoice.nn.speech_student import HeadConfig, SpeechStudent
from radvoice.nn.streaming import ChunkingConfig
from radvoice.nn.whisper.equivalence import synthetic_speechlike
from radvoice.nn.whisper.model import AudioEncoder, WhisperDims, save_encoder

REPO = Path(__file__).resolve().parents[1]
SMALL = WhisperDims(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=4, n_audio_layer=3)
HEAD = HeadConfig(width=32, layers=1, heads=2, queries=2, out_dim=512, dropout=0.0)
CHUNKS = ChunkingConfig(chunk_seconds=1.0, context_seconds=0.5)
NAME = "whisper-mini"


def _keys(path: Path) -> set[str]:
    with safe_open(str(path / "model.safetensors"), framework="pt") as fh:
        return set(fh.keys())


def _write_whisper(root: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    save_encoder(AudioEncoder(SMALL), root / NAME)  # fp16, registered in root/registry.json
    return root / NAME


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder holding a small random Whisper-shaped encoder; nothing else is found."""
    monkeypatch.setenv("RADVOICE_MODELS", str(tmp_path / "empty"))
    _write_whisper(tmp_path / "models", seed=0)
    return tmp_path / "models"


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return synthetic_speechlike(2.7, seed=5)


def _student(root: Path, train_top_layers: int = 0) -> SpeechStudent:
    torch.manual_seed(1)
    return SpeechStudent.from_whisper(root / NAME, HEAD, CHUNKS, train_top_layers).eval()


def test_round_trip_stores_head_and_fine_tuned_tensors_only(root: Path, audio) -> None:
    student = _student(root, train_top_layers=1)
    with torch.no_grad():  # "fine-tune" two tensors of the trainable top block
        student.encoder.blocks[2].attn.query.weight.add_(0.01)
        student.encoder.ln_post.bias.add_(0.02)
    student.save(root / "student")
    stored = _keys(root / "student")
    assert {k for k in stored if k.startswith("encoder.")} == {
        "encoder.blocks.2.attn.query.weight",
        "encoder.ln_post.bias",
    }
    assert {k for k in stored if not k.startswith("encoder.")} == {
        k for k in student.state_dict() if k.startswith("head.")
    }
    cfg = json.loads((root / "student" / "config.json").read_text())
    assert cfg["whisper"] == NAME == cfg["dims"]["whisper"]
    assert cfg["whisper_sha256"] == sha256_file(root / NAME / "model.safetensors")
    loaded = SpeechStudent.load(root / "student")
    assert loaded.config == student.config
    for key, value in student.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    np.testing.assert_array_equal(loaded.embed_audio(audio), student.embed_audio(audio))


def test_referencing_file_is_a_fraction_of_the_full_one(root: Path) -> None:
    student = _student(root)
    student.save(root / "student")
    student.save(root / "full", encoder="full")
    small = (root / "student" / "model.safetensors").stat().st_size
    full = (root / "full" / "model.safetensors").stat().st_size
    assert not any(k.startswith("encoder.") for k in _keys(root / "student"))
    head = sum(v.numel() * 4 for k, v in student.state_dict().items() if k.startswith("head."))
    assert small < head + 20_000 and small < full / 2, (small, head, full)


def test_replaced_whisper_weights_are_refused(root: Path) -> None:
    _student(root).save(root / "student")
    SpeechStudent.load(root / "student")
    _write_whisper(root, seed=7)  # other weights, and re-registered: only the pin catches it
    with pytest.raises(ModelIntegrityError, match="encoder weights were replaced"):
        SpeechStudent.load(root / "student")


def test_unregistered_whisper_change_and_missing_whisper_are_refused(root: Path) -> None:
    _student(root).save(root / "student")
    weights = root / NAME / "model.safetensors"
    pristine = weights.read_bytes()
    with open(weights, "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\x00" * 4)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        SpeechStudent.load(root / "student")
    weights.write_bytes(pristine)
    SpeechStudent.load(root / "student")
    weights.rename(root / "moved.safetensors")
    with pytest.raises(ModelIntegrityError, match="not found"):
        SpeechStudent.load(root / "student")


def test_old_format_with_the_encoder_inside_still_loads(root: Path, audio) -> None:
    student = _student(root, train_top_layers=1)
    cfg = student.config.to_dict()  # exactly what the first save() wrote
    state = {k: v.detach().float() for k, v in student.state_dict().items()}
    save_model(root / "old", state, {"architecture": "radvoice-speech-student", **cfg}, cfg)
    (root / NAME / "model.safetensors").unlink()  # the old format does not need it
    loaded = SpeechStudent.load(root / "old")
    np.testing.assert_array_equal(loaded.embed_audio(audio), student.embed_audio(audio))


def test_encoder_found_in_the_models_folder_when_not_beside(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, audio
) -> None:
    monkeypatch.setenv("RADVOICE_MODELS", str(root))
    student = _student(root)
    student.save(tmp_path / "run" / "model")  # e.g. a training export under runs/
    assert not any(k.startswith("encoder.") for k in _keys(tmp_path / "run" / "model"))
    loaded = SpeechStudent.load(tmp_path / "run" / "model")
    np.testing.assert_array_equal(loaded.embed_audio(audio), student.embed_audio(audio))


def test_auto_copies_the_encoder_when_it_cannot_reference(root: Path, tmp_path: Path) -> None:
    student = _student(root, train_top_layers=1)
    student.save(tmp_path / "elsewhere" / "student")  # base not beside it nor in models_dir()
    assert "encoder.conv1.weight" in _keys(tmp_path / "elsewhere" / "student")
    with torch.no_grad():
        student.encoder.blocks[0].mlp[0].bias.add_(0.1)  # a frozen block changed
    with pytest.raises(ModelIntegrityError, match="frozen encoder tensors differ"):
        student.save(root / "student", encoder="reference")
    student.save(root / "student")
    assert "encoder.blocks.0.mlp.0.bias" in _keys(root / "student")
    cfg = json.loads((root / "student" / "config.json").read_text())
    assert "whisper" not in cfg and "whisper" not in cfg["dims"]
    loaded = SpeechStudent.load(root / "student")
    assert torch.equal(loaded.encoder.blocks[0].mlp[0].bias, student.encoder.blocks[0].mlp[0].bias)


def test_shipped_students_reference_the_shipped_whisper() -> None:
    names, members = set(), set()
    for name in ("student", "student_nokd"):
        folder = REPO / "models" / name
        cfg = json.loads((folder / "config.json").read_text())
        names.add(cfg["whisper"])
        members.add(cfg.get("members", 1))
        whisper = REPO / "models" / cfg["whisper"] / "model.safetensors"
        assert cfg["whisper_sha256"] == sha256_file(whisper), name
        assert not any(k.startswith("encoder.") for k in _keys(folder)), name
        size = (folder / "model.safetensors").stat().st_size
        assert size < 2_000_000 * cfg.get("members", 1), name  # heads only
    assert len(names) == 1  # the KD student and its baseline share one encoder
    assert len(members) == 1  # and ensemble as many seeds: gap recovery compares like with like


def test_saved_weights_are_as_readable_as_their_config(tmp_path: Path) -> None:
    import torch

    from radvoice.nn.registry import save_model

    files = save_model(tmp_path / "m", {"w": torch.zeros(2)}, {"kind": "x"}, {"n": 2})
    modes = {f.name: f.stat().st_mode & 0o777 for f in files}
    assert modes["model.safetensors"] == modes["config.json"], modes
