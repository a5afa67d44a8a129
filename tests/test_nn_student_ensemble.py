"""Student ensembles: the head averages the members, streams like one student, saves and loads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radvoice.nn.speech_student import (
    HeadConfig,
    HeadEnsemble,
    SpeechStudent,
    StudentConfig,
    ensemble_students,
)
from radvoice.nn.streaming import ChunkingConfig
from radvoice.nn.whisper.equivalence import synthetic_speechlike
from radvoice.nn.whisper.model import WhisperDims, WhisperModelError

SMALL = WhisperDims(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=4, n_audio_layer=3)
CONFIG = StudentConfig(
    encoder=SMALL,
    head=HeadConfig(width=32, layers=1, heads=2, queries=2, out_dim=512, dropout=0.0),
    chunking=ChunkingConfig(chunk_seconds=1.0, context_seconds=0.5),
)


def _members(n: int = 3) -> list[SpeechStudent]:
    torch.manual_seed(0)
    first = SpeechStudent(CONFIG).eval()
    out = [first]
    for seed in range(1, n):
        torch.manual_seed(seed)
        out.append(SpeechStudent(CONFIG, first.encoder).eval())  # other head, same encoder
    for s in out:
        s.teacher_sha256 = "a" * 64
    return out


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return synthetic_speechlike(3.7, seed=3)


def test_ensemble_embeds_the_normalised_mean_of_its_members(audio) -> None:
    members = _members()
    ens = ensemble_students(members)
    assert isinstance(ens.head, HeadEnsemble) and ens.config.members == 3
    each = torch.stack([torch.from_numpy(m.embed_audio(audio)) for m in members])
    expected = F.normalize(each.mean(0), dim=-1).numpy()
    got = ens.embed_audio(audio)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, each[0].numpy(), atol=1e-3)  # not just the first member
    assert ens.teacher_sha256 == "a" * 64


def test_ensemble_streams_as_it_embeds_offline(audio) -> None:
    ens = ensemble_students(_members(2))
    session = ens.stream()
    for start in range(0, audio.size, 2731):
        session.push(audio[start : start + 2731])
    np.testing.assert_allclose(
        session.finish().float().numpy().ravel(), ens.embed_audio(audio), atol=1e-5
    )


def test_ensemble_saves_and_loads_with_its_members(audio, tmp_path: Path) -> None:
    ens = ensemble_students(_members(2))
    ens.save(tmp_path / "ens", encoder="full", register=True, teacher_sha256=ens.teacher_sha256)
    loaded = SpeechStudent.load(tmp_path / "ens")
    assert loaded.config.members == 2 and loaded.teacher_sha256 == "a" * 64
    np.testing.assert_allclose(loaded.embed_audio(audio), ens.embed_audio(audio), atol=1e-5)
    again = ensemble_students([loaded, _members(3)[2]])  # an ensemble member is flattened
    assert again.config.members == 3


def test_an_ensemble_leaves_the_question_head_to_be_trained_on_it() -> None:
    from radvoice.nn.speech_student import QUESTION_HEAD

    members = _members(2)
    with_q = SpeechStudent(replace(CONFIG, question=QUESTION_HEAD), members[0].encoder)
    with_q.teacher_sha256 = "a" * 64
    ens = ensemble_students([with_q, members[1]])
    assert ens.question is None and ens.config.question is None


def test_ensemble_refuses_members_that_do_not_share_a_space() -> None:
    members = _members(2)
    with pytest.raises(WhisperModelError, match="at least two"):
        ensemble_students(members[:1])
    wider = SpeechStudent(replace(CONFIG, head=replace(CONFIG.head, width=48)), members[0].encoder)
    wider.teacher_sha256 = "a" * 64
    with pytest.raises(WhisperModelError, match="head shape"):
        ensemble_students([members[0], wider])
    torch.manual_seed(9)
    other_encoder = SpeechStudent(CONFIG)
    other_encoder.teacher_sha256 = "a" * 64
    with pytest.raises(WhisperModelError, match="different encoder weights"):
        ensemble_students([members[0], other_encoder])
    members[1].teacher_sha256 = "b" * 64
    with pytest.raises(WhisperModelError, match="different teachers"):
        ensemble_students(members)
    with pytest.raises(WhisperModelError, match="frozen"):
        StudentConfig(encoder=SMALL, train_top_layers=1, members=2)
