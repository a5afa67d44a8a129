"""The command head: save/load with the registry, attached to a student it streams beside the
other heads without changing them, refused on another encoder, trained on cached frames, and
``radvoice classify --audio --json`` reporting a spoken command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from radvoice.assistant.voice_commands import COMMAND_NAMES, NOT_A_COMMAND
from radvoice.cli.main import main as cli_main
from radvoice.imaging.itk_io import write_volume
from radvoice.nn.command_head import COMMAND_HEAD, CommandHead, attach_command_head, student_dims
from radvoice.nn.registry import ModelIntegrityError
from radvoice.nn.speech_student import QUESTION_HEAD, QuestionHead, SpeechStudent
from radvoice.training.command_corpus import CommandUtterance
from radvoice.training.command_head import balanced, train_command_head
from radvoice.training.config import load_config
from radvoice.training.student import StudentSpec

CLASSES = [*COMMAND_NAMES, NOT_A_COMMAND]


def tiny_student() -> SpeechStudent:
    torch.manual_seed(0)
    return StudentSpec.from_dict(load_config("student_tiny").model).build(Path("."))


def biased_head(student: SpeechStudent, command: str) -> CommandHead:
    """A head that names ``command`` for any audio (zero weights, one large bias)."""
    head = CommandHead(student.config.encoder.n_audio_state, COMMAND_HEAD, CLASSES)
    with torch.no_grad():
        head.logits.weight.zero_()
        head.logits.bias.fill_(-5.0)
        head.logits.bias[CLASSES.index(command)] = 5.0
    head.threshold = 0.6
    return head.eval()


def audio(seconds: float = 1.7) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.2 * np.sin(2 * np.pi * 220 * t) * (0.5 + 0.5 * np.sin(6 * t))).astype(np.float32)


def test_save_load_round_trip_and_integrity(tmp_path: Path) -> None:
    student = tiny_student()
    head = biased_head(student, "view.zoom.in")
    head.save(tmp_path / "commands", student_dims(student))
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert {"commands/config.json", "commands/model.safetensors"} <= set(registry)
    loaded, dims = CommandHead.load(tmp_path / "commands")
    assert loaded.classes == CLASSES and dims["threshold"] == pytest.approx(0.6)
    for k, v in head.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    weights = tmp_path / "commands" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        CommandHead.load(tmp_path / "commands")


def test_attached_head_streams_beside_the_student_heads_unchanged(tmp_path: Path) -> None:
    student = tiny_student()
    student.question = QuestionHead(student.config.encoder.n_audio_state, QUESTION_HEAD).eval()
    plain = student.stream()
    plain.push(audio())
    before = plain.finish()
    q_before = plain.outputs["question"]
    biased_head(student, "voice.undo").save(tmp_path / "commands", student_dims(student))
    attach_command_head(student, tmp_path / "commands")
    session = student.stream()
    session.push(audio())
    after = session.finish()
    assert torch.allclose(before, after) and torch.allclose(q_before, session.outputs["question"])
    logits = session.outputs["command"]
    assert logits.shape == (len(CLASSES),) and session.classes["command"] == CLASSES
    assert CLASSES[int(logits.argmax())] == "voice.undo"
    assert "command" not in "".join(student.state_dict())  # never saved into the student


def test_a_head_trained_on_another_encoder_is_refused(tmp_path: Path) -> None:
    student = tiny_student()
    dims = student_dims(student) | {"chunking": {"chunk_seconds": 2.0, "context_seconds": 1.0}}
    biased_head(student, "voice.undo").save(tmp_path / "commands", dims)
    with pytest.raises(ModelIntegrityError, match="another encoder"):
        attach_command_head(student, tmp_path / "commands")
    dims = student_dims(student) | {"whisper_sha256": "a" * 64}
    student.whisper_sha256 = "b" * 64
    biased_head(student, "voice.undo").save(tmp_path / "c2", dims)
    with pytest.raises(ModelIntegrityError, match="other Whisper weights"):
        attach_command_head(student, tmp_path / "c2")


class FrameFeats:
    """Cached-frame stand-in: each class speaks frames around its own direction."""

    def __init__(self, utts: list[CommandUtterance], dim: int) -> None:
        rng = np.random.default_rng(0)
        centres = {c: rng.standard_normal(dim) for c in CLASSES}
        self.frames = {}
        for i, u in enumerate(utts):
            c = centres[u.command or NOT_A_COMMAND]
            noise = np.random.default_rng(i).standard_normal((12, dim))
            self.frames[u.utt_id] = torch.tensor(c + 0.8 * noise, dtype=torch.float32)

    def chunks(self, utts, device):
        return [[self.frames[u.utt_id][:6], self.frames[u.utt_id][6:]] for u in utts]


def test_training_learns_commands_against_negatives() -> None:
    utts = []
    for split, n in (("train", 6), ("test_seen", 2)):
        for c in COMMAND_NAMES:
            utts += [
                CommandUtterance(f"{c}{split}{k}", Path("x"), "command", c, split, c)
                for k in range(n)
            ]
        for kind in ("query", "finding", "prompt", "report"):
            utts += [
                CommandUtterance(f"{kind}{split}{k}", Path("x"), kind, kind, split)
                for k in range(3 * n)
            ]
    p = balanced([u for u in utts if u.split == "train"])
    assert p.sum() == pytest.approx(1.0)
    student = tiny_student()
    feats = FrameFeats(utts, student.config.encoder.n_audio_state)
    head = train_command_head(student, utts, feats, steps=150, batch=32)
    from radvoice.nn.speech_student import _run_head

    test = [u for u in utts if u.split == "test_seen"]
    with torch.no_grad():
        pred = _run_head(head, feats.chunks(test, None)).argmax(1).numpy()
    truth = np.array([CLASSES.index(u.command or NOT_A_COMMAND) for u in test])
    assert (pred == truth).mean() > 0.9


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    """A tiny teacher and student whose question head says "statement" and whose command
    head says "lung window", registered like the shipped models."""
    from radvoice.training.cases import assign_splits
    from radvoice.training.teacher import train_teacher
    from radvoice.training.toy import toy_records

    root = tmp_path_factory.mktemp("models")
    cfg = load_config("teacher_tiny")
    cfg.train.max_steps = 2
    recs = toy_records(12, seed=2)
    assign_splits(recs, 0.25, seed=0)
    train_teacher(cfg, recs, root / "run", progress=False, export_dir=root / "teacher")
    student = tiny_student()
    student.config = replace(student.config, question=QUESTION_HEAD)
    student.question = QuestionHead(student.config.encoder.n_audio_state, QUESTION_HEAD)
    with torch.no_grad():
        student.question.logit.weight.zero_()
        student.question.logit.bias.fill_(-6.0)
    student.save(root / "student")
    biased_head(student, "view.preset.lung").save(root / "commands", student_dims(student))
    return root


def test_classify_audio_json_reports_the_command(models_root, tmp_path, capsys) -> None:
    from radvoice.training.toy import toy_volume

    volume = tmp_path / "case.nii.gz"
    write_volume(toy_volume(np.eye(18, dtype=np.int64)[1], seed=1), volume)
    wav = tmp_path / "cmd.wav"
    sf.write(str(wav), audio(), 16000)
    args = ["classify", str(volume), "--models", str(models_root), "--json", "--audio", str(wav)]
    args += ["--text", "is there a pleural effusion?", "--text", "bone window please"]
    assert cli_main(args) == 0
    queries = json.loads(capsys.readouterr().out)["queries"]
    spoken, asked, typed = queries
    assert spoken["intent"] == "command" and spoken["command"] == "view.preset.lung"
    assert spoken["command_title"] == "Lung window" and spoken["command_probability"] > 0.9
    assert spoken["question_probability"] < 0.01
    assert asked["intent"] != "command" and "command" not in asked  # typed: no head needed
    assert typed["intent"] == "command" and typed["command"] == "view.preset.bone"
    plain = ["classify", str(volume), "--models", str(models_root), "--audio", str(wav)]
    assert cli_main(plain) == 0
    assert "command view.preset.lung: Lung window" in capsys.readouterr().out
