"""The assistant on the real model classes: RadVoiceModels over a tiny teacher trained for one
step and a speech student (random head on the shipped Whisper tiny.en encoder) in a tmp
``models/`` folder — checks the wiring against the actual pipeline API, not a double."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from radvoice.assistant import Assistant, load_default_models
from radvoice.components.state import FindingsState, PriorsState, TalkState
from radvoice.labels import PATHOLOGIES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    from radvoice.cli.main import main as cli_main
    from radvoice.nn.registry import models_dir
    from radvoice.nn.speech_student import HeadConfig, SpeechStudent

    whisper = models_dir() / "whisper-tiny.en"
    if not whisper.is_dir():
        pytest.skip("models/whisper-tiny.en is not converted")
    root = tmp_path_factory.mktemp("models")
    code = cli_main(
        ["train", "teacher", "--config", "teacher_tiny", "--data", "toy:12", "--max-steps", "1",
         "--out", str(root.parent / "run"), "--export", str(root / "teacher"), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    SpeechStudent.from_whisper(whisper, head=HeadConfig(width=64, layers=1)).save(root / "student")
    return root


def test_real_models_fill_findings_and_answer_speech(models_root: Path, tmp_path: Path) -> None:
    from radvoice.library import CaseLibrary
    from radvoice.training.toy import toy_volume

    models = load_default_models(models_root)
    assert not hasattr(models, "reason"), models
    lib = CaseLibrary(tmp_path / "library")
    for i in range(3):
        labels = np.zeros(len(PATHOLOGIES), int)
        labels[i] = 1
        volume = toy_volume(labels, seed=i)
        lib.add_volume(volume, models, source=f"toy-{i}", report=f"{PATHOLOGIES[i]} is present.")
    engine = Assistant(FindingsState(), PriorsState(), TalkState(), models, lib)
    engine.volume_opened(toy_volume(np.zeros(len(PATHOLOGIES), int), seed=5))
    assert engine.wait_idle(120)
    probs = engine.findings.probabilities
    assert probs is not None and set(probs) == set(PATHOLOGIES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())

    # a spoken utterance through the streaming student; whichever intent the untrained head
    # gives, the matching panel must be filled
    t = np.arange(16000 * 3) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    for start in range(0, audio.size, 3200):
        engine.push_chunk(1, audio[start : start + 3200], start)
    engine.finish_utterance(1, audio)
    assert engine.wait_idle(120)
    answer = engine.last_answer
    assert answer is not None and answer.source == "speech"
    assert np.isclose(np.linalg.norm(answer.embedding), 1.0, atol=1e-4)
    if answer.intent.kind.value == "query":
        assert engine.findings.queried_label == answer.intent.label
    else:
        assert len(engine.priors.results) == 3
    engine.shutdown()
    assert not [t for t in threading.enumerate() if t.name.startswith("radvoice-")]


def test_streaming_shares_the_checked_student(models_root: Path, tmp_path: Path) -> None:
    import shutil

    from radvoice.assistant.speech import open_speech_stream
    from radvoice.nn.registry import ModelIntegrityError

    models = load_default_models(models_root)
    stream = open_speech_stream(models)
    t = np.arange(16000 * 3) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    stream.push(audio)
    streamed = np.asarray(stream.finish(), dtype=np.float32).reshape(-1)
    assert models._student is not None  # the stream runs on the pipeline's one student
    # int8 encoder: activation scales are per batch, so the streamed windows and the batched
    # ones differ slightly (float32: atol 2e-3 elementwise)
    assert float(np.dot(streamed, models.embed_audio(audio))) > 0.999

    # a student pinned to another teacher is refused on the streaming path too
    from radvoice.nn.speech_student import SpeechStudent

    other = tmp_path / "models"
    shutil.copytree(models_root, other)
    SpeechStudent.load(models_root / "student").save(other / "student", teacher_sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="another teacher"):
        open_speech_stream(load_default_models(other))
