"""Speech embedding while the user talks: chunks are encoded as they arrive, the tail at release.

:func:`open_speech_stream` picks, in order:

1. ``models.speech_stream()`` when the models object offers one (a push/finish/reset session);
2. the speech student of ``models.student_dir`` (:meth:`SpeechStudent.stream`, the chunked
   encoder of :mod:`radvoice.nn.streaming`) on ``models.device``, refused beside a
   ``models.teacher_dir`` it was not distilled from;
3. a buffer that calls ``models.embed_audio`` on the whole utterance at release (test doubles,
   or models without a student folder).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from radvoice.assistant.models import AssistantModels
from radvoice.errors import RadVoiceError


class SpeechStream(Protocol):
    """``push`` 16 kHz samples while talking, ``finish`` at release → embedding, ``reset``."""

    @property
    def n_samples(self) -> int: ...
    def push(self, samples: np.ndarray) -> int: ...
    def finish(self) -> object: ...
    def reset(self) -> None: ...


class BufferedStream:
    """Keeps the samples and embeds the whole utterance at release (no chunked encoder)."""

    def __init__(self, embed_audio) -> None:
        self._embed = embed_audio
        self._lock = threading.Lock()
        self._parts: list[np.ndarray] = []
        self._n = 0

    @property
    def n_samples(self) -> int:
        return self._n

    def push(self, samples: np.ndarray) -> int:
        arr = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._lock:
            self._parts.append(arr.copy())
            self._n += arr.size
        return 0

    def finish(self) -> np.ndarray:
        with self._lock:
            audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        if audio.size == 0:
            raise RadVoiceError("no speech recorded (key released too early)")
        return np.asarray(self._embed(audio), dtype=np.float32)

    def reset(self) -> None:
        with self._lock:
            self._parts, self._n = [], 0


def open_speech_stream(models: AssistantModels) -> SpeechStream:
    """The best streaming session these models allow (see the module docstring)."""
    factory = getattr(models, "speech_stream", None)
    if callable(factory):
        return factory()
    student_dir = getattr(models, "student_dir", None)
    if student_dir is not None and Path(student_dir).is_dir():
        from radvoice.nn.speech_student import SpeechStudent, check_distilled_from

        device = str(getattr(models, "device", "cpu"))
        student = SpeechStudent.load(Path(student_dir), device=device)
        teacher_dir = getattr(models, "teacher_dir", None)
        if teacher_dir is not None:
            check_distilled_from(student, Path(student_dir), Path(teacher_dir))
        return student.stream()
    return BufferedStream(models.embed_audio)


def question_probability(stream: object) -> float | None:
    """After ``finish``: the question head's probability, None when the model has none."""
    logit = getattr(stream, "outputs", {}).get("question")
    if logit is None:
        return None
    return float(1.0 / (1.0 + np.exp(-float(logit))))


def command_of(stream: object) -> tuple[str, float] | None:
    """After ``finish``: the command head's best command and its probability (softmax over the
    head's classes, "none" included), None when the model has no command head."""
    from radvoice.assistant.intent import best_command
    from radvoice.voice_catalog import COMMAND_OUTPUT as OUTPUT

    logits = getattr(stream, "outputs", {}).get(OUTPUT)
    names = (getattr(stream, "classes", None) or {}).get(OUTPUT)
    if logits is None or not names:
        return None
    z = np.asarray(logits.detach().float().cpu() if hasattr(logits, "detach") else logits)
    z = z.astype(np.float64).reshape(-1)
    p = np.exp(z - z.max())
    return best_command(list(names), p / p.sum())


def as_vector(embedding: object) -> np.ndarray:
    """A tensor or array embedding as a float32 numpy vector."""
    if hasattr(embedding, "detach"):
        embedding = embedding.detach().float().cpu().numpy()  # type: ignore[attr-defined]
    return np.asarray(embedding, dtype=np.float32).reshape(-1)
