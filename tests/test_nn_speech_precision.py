"""Int8 speech encoder (radvoice.nn.quantize): which precision is chosen, what is quantised,
and that the quantised student stays close to the float32 one (shipped accuracy: see
tests/test_models_shipped.py and docs/notes/perf.md)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from radvoice.nn import quantize
from radvoice.nn.registry import models_dir
from radvoice.nn.speech_student import SpeechStudent

WHISPER = models_dir() / "whisper-tiny.en"


def test_precision_setting(monkeypatch) -> None:
    monkeypatch.delenv(quantize.ENV_VAR, raising=False)
    assert quantize.speech_precision() == quantize.DEFAULT_PRECISION == "int8"
    monkeypatch.setenv(quantize.ENV_VAR, "float32")
    assert quantize.speech_precision() == "float32"
    assert quantize.speech_precision("int8") == "int8"  # an explicit choice wins
    monkeypatch.setenv(quantize.ENV_VAR, "fp4")
    assert quantize.speech_precision() == "int8"  # unknown: the default


@pytest.mark.skipif(not WHISPER.is_dir(), reason="models/whisper-tiny.en not shipped")
def test_int8_student_quantises_only_encoder_linears_and_stays_close() -> None:
    torch.manual_seed(0)
    student = SpeechStudent.from_whisper(WHISPER).eval()
    int8 = copy.deepcopy(student)
    quantize.quantize_student(int8, "float32")
    assert type(int8.encoder.blocks[0].mlp[0]) is torch.nn.Linear  # float32: untouched
    quantize.quantize_student(int8, "int8")
    assert int8.precision == "int8"
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    n_linear = sum(type(m) is torch.nn.Linear for m in student.encoder.modules())
    assert sum(type(m) is dynamic for m in int8.encoder.modules()) == n_linear > 0
    assert not any(type(m) is torch.nn.Linear for m in int8.encoder.modules())
    assert type(int8.encoder.conv1) is torch.nn.Conv1d
    assert not any(type(m) is dynamic for m in int8.head.modules())
    t = np.arange(3 * 16000) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    a, b = student.embed_audio(audio), int8.embed_audio(audio)
    assert 0.95 < float(np.dot(a, b)) < 0.99999  # changed, but close
    session = int8.stream()  # the push-to-talk path runs on the quantised encoder too
    session.push(audio)
    assert float(np.dot(np.asarray(session.finish()).reshape(-1), b)) > 0.99


def test_a_student_being_fine_tuned_is_not_quantised() -> None:
    student = SpeechStudent.from_whisper(WHISPER) if WHISPER.is_dir() else None
    if student is None:
        pytest.skip("models/whisper-tiny.en not shipped")
    student.train()
    quantize.quantize_student(student, "int8")
    assert type(student.encoder.blocks[0].mlp[0]) is torch.nn.Linear
