"""The assistant engine without Qt: findings off the GUI thread, query vs report, priors,
missing models, streaming through the real chunked student, shutdown."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from test_assistant_support import REPORTS, FakeModels, build_library, make_volume

from radvoice.assistant import (
    Assistant,
    AssistantConfig,
    IntentKind,
    IntentRules,
    ModelsMissing,
    classify_intent,
    load_default_models,
)
from radvoice.assistant.speech import BufferedStream
from radvoice.components.state import FindingsState, PriorsState, TalkPhase, TalkState
from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES

QUERY = "Is there a pleural effusion?"


def make(models=None, library=None, **kw) -> Assistant:
    return Assistant(
        FindingsState(), PriorsState(), TalkState(), models, library, config=AssistantConfig(**kw)
    )


def speak_in_chunks(engine: Assistant, audio: np.ndarray, utt: int, block: int = 1600) -> None:
    for start in range(0, audio.size, block):
        engine.push_chunk(utt, audio[start : start + block], start)
    engine.finish_utterance(utt, audio)


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("radvoice-")]


def test_volume_fills_findings_off_the_calling_thread() -> None:
    models = FakeModels()
    engine = make(models)
    seen: list[str] = []
    engine.findings.events.probabilities.connect(
        lambda _p: seen.append(threading.current_thread().name)
    )
    volume = make_volume(1)
    engine.volume_opened(volume)
    assert engine.wait_idle(30)
    probs = engine.findings.probabilities
    assert probs == models.zero_shot(models.embed_volume(volume))
    assert set(probs) == set(PATHOLOGIES)
    assert engine.findings.thresholds == models.thresholds
    assert engine.findings.queried_label is None
    assert seen and all(name.startswith("radvoice-ct") for name in seen)
    engine.shutdown()
    assert worker_threads() == []


def test_spoken_query_reranks_and_report_finds_priors(tmp_path: Path) -> None:
    models = FakeModels()
    lib = build_library(tmp_path, models)
    engine = make(models, lib)
    engine.volume_opened(make_volume(2))
    speak_in_chunks(engine, models.speak(QUERY), utt=1)
    assert engine.wait_idle(30)
    answer = engine.last_answer
    assert answer.intent.kind is IntentKind.QUERY and answer.intent.label == "Pleural effusion"
    assert engine.findings.queried_label == "Pleural effusion"
    assert "Pleural effusion" in engine.talk.message
    assert engine.priors.results == ()  # a question does not search the library

    report = REPORTS[3]
    speak_in_chunks(engine, models.speak(report), utt=2)
    assert engine.wait_idle(30)
    assert engine.last_answer.intent.kind is IntentKind.REPORT
    results = engine.priors.results
    assert 1 <= len(results) <= 8
    top = results[0]
    assert top.report_snippet == report and "Lung nodule" in top.labels
    assert top.thumbnail_png and top.thumbnail_png.startswith(b"\x89PNG")
    assert top.extra["library_id"] >= 1 and Path(top.path).is_file()
    assert engine.findings.queried_label == "Pleural effusion"  # findings untouched by a report
    engine.shutdown()


def test_question_before_the_ct_is_analysed_is_applied_when_it_is() -> None:
    models = FakeModels()
    engine = make(models)
    engine.ask_text(QUERY)
    assert engine.wait_idle(30)
    assert engine.findings.probabilities is None
    assert "open a CT" in engine.findings.status
    engine.volume_opened(make_volume(3))
    assert engine.wait_idle(30)
    assert engine.findings.queried_label == "Pleural effusion"
    engine.volume_opened(make_volume(4))  # a new CT forgets the question
    assert engine.wait_idle(30)
    assert engine.findings.queried_label is None and engine.findings.probabilities
    engine.shutdown()


def test_intent_rules_threshold_and_length() -> None:
    models = FakeModels()
    q = models.embed_text(QUERY)
    assert classify_intent(models, q, 2.0).kind is IntentKind.QUERY
    assert classify_intent(models, q, 9.0).kind is IntentKind.REPORT  # too long for a query
    r = models.embed_text(REPORTS[0])
    intent = classify_intent(models, r, 3.0)
    assert intent.kind is IntentKind.REPORT and intent.score < 0.5


def test_a_question_head_that_hears_a_statement_routes_it_to_priors() -> None:
    models = FakeModels()
    q = models.embed_text(QUERY)
    said = classify_intent(models, q, 2.0, question_probability=0.1)
    assert said.kind is IntentKind.REPORT and said.question_probability == 0.1
    asked = classify_intent(models, q, 2.0, question_probability=0.9)
    assert asked.kind is IntentKind.QUERY and asked.label == "Pleural effusion"
    lenient = IntentRules(question_threshold=0.05)
    assert classify_intent(models, q, 2.0, lenient, question_probability=0.1).kind is (
        IntentKind.QUERY
    )

    class HeadStream(BufferedStream):  # a speech model with a question head (logit)
        def __init__(self, embed, logit: float) -> None:
            super().__init__(embed)
            self.logit, self.outputs = logit, {}

        def finish(self):
            self.outputs = {"question": np.float32(self.logit)}
            return super().finish()

    for logit, kind in ((-4.0, IntentKind.REPORT), (4.0, IntentKind.QUERY)):
        models.speech_stream = lambda logit=logit: HeadStream(models.embed_audio, logit)
        engine = make(models)
        speak_in_chunks(engine, models.speak(QUERY), utt=1)
        assert engine.wait_idle(30)
        assert engine.last_answer.intent.kind is kind
        assert engine.last_answer.intent.question_probability == pytest.approx(
            1 / (1 + np.exp(-logit))
        )
        engine.shutdown()


def test_a_question_between_two_pathologies_shows_both() -> None:
    models = FakeModels()
    clear = classify_intent(models, models.embed_text(QUERY), 2.0)
    assert clear.alternatives == ()
    both = "is there emphysema or atelectasis?"
    tie = classify_intent(models, models.embed_text(both), 2.0)
    assert tie.kind is IntentKind.QUERY
    asked = {tie.label, *(k for k, _ in tie.alternatives)}
    assert asked == {"Emphysema", "Atelectasis"}
    assert all(tie.score - s <= IntentRules().tie_margin for _, s in tie.alternatives)
    strict = classify_intent(models, models.embed_text(both), 2.0, IntentRules(tie_margin=0.0))
    assert strict.alternatives == ()

    engine = make(models)
    engine.volume_opened(make_volume(2))
    assert engine.wait_idle(30)
    engine.ask_text(both)
    assert engine.wait_idle(30)
    other = next(iter(asked - {tie.label}))
    assert engine.findings.queried_label == tie.label
    assert engine.findings.alternatives == (other,)
    assert f"or {other}" in engine.findings.status and other in engine.talk.message
    engine.ask_text(QUERY)  # a clear question drops the old alternative
    assert engine.wait_idle(30)
    assert engine.findings.alternatives == ()
    engine.shutdown()


def test_similar_to_volume_uses_the_ct_space(tmp_path: Path) -> None:
    models = FakeModels()
    lib = build_library(tmp_path, models)
    engine = make(models, lib)
    with pytest.raises(RadVoiceError, match="open a CT"):
        engine.similar_to_volume()
    target = lib.load_volume(3)  # a library case itself: it must come first
    engine.volume_opened(target)
    engine.similar_to_volume()
    assert engine.wait_idle(30)
    results = engine.priors.results
    assert results[0].extra["library_id"] == 3 and results[0].score == pytest.approx(1.0, abs=1e-4)
    assert models.volume_calls == 1 + len(REPORTS)  # the open CT was embedded once
    engine.shutdown()


def test_no_models_keeps_the_empty_state(tmp_path: Path) -> None:
    engine = make(ModelsMissing("the trained models are not installed (models/teacher missing)"))
    assert engine.findings.probabilities is None
    assert engine.findings.status.startswith("No model loaded")
    assert "models/teacher" in engine.findings.status
    engine.volume_opened(make_volume(5))
    engine.push_chunk(1, np.zeros(1600, np.float32), 0)
    engine.finish_utterance(1, np.zeros(16000, np.float32))
    assert engine.wait_idle(10)
    assert engine.findings.probabilities is None
    assert engine.findings.status.startswith("No model loaded")
    assert engine.talk.message.startswith("No model loaded")
    with pytest.raises(RadVoiceError, match="No model loaded"):
        engine.ask_text("is there an effusion?")
    with pytest.raises(RadVoiceError, match="No model loaded"):
        engine.similar_to_volume()
    assert engine.priors.status.startswith("No case library")
    engine.shutdown()


def test_default_models_report_what_is_missing(tmp_path: Path) -> None:
    missing = load_default_models(tmp_path)
    assert isinstance(missing, ModelsMissing)
    assert f"{tmp_path.name}/teacher missing" in missing.reason
    (tmp_path / "teacher").mkdir()  # the student may come later: findings work without it
    assert not isinstance(load_default_models(tmp_path), ModelsMissing)


def test_model_errors_become_one_line_status() -> None:
    class Broken(FakeModels):
        def embed_volume(self, volume):
            raise RadVoiceError("models/teacher/model.safetensors: SHA-256 differs\nmore")

    engine = make(Broken())
    engine.volume_opened(make_volume(6))
    assert engine.wait_idle(10)
    assert engine.findings.probabilities is None
    assert (
        engine.findings.status
        == "No findings for this CT — models/teacher/model.safetensors: SHA-256 differs"
    )
    engine.shutdown()


def test_library_of_other_models_is_refused_clearly(tmp_path: Path) -> None:
    models = FakeModels()
    lib = build_library(tmp_path, models, n=2)
    other = FakeModels()
    other.model_checksum = "0" * 64
    engine = make(other, lib)
    engine.ask_text(REPORTS[0])
    assert engine.wait_idle(30)
    assert engine.priors.results == ()
    assert "reindex --re-embed" in engine.priors.status
    assert engine.talk.phase is TalkPhase.ERROR
    engine.shutdown()


def test_a_broken_speech_model_is_one_clear_message(tmp_path: Path) -> None:
    (tmp_path / "student").mkdir()  # a student folder without its files
    models = FakeModels(student_dir=tmp_path / "student")
    engine = make(models)
    audio = models.speak(QUERY)
    speak_in_chunks(engine, audio, utt=1)
    assert engine.wait_idle(30)
    assert engine.talk.phase is TalkPhase.ERROR
    assert engine.talk.message.startswith("speech model unavailable: ")
    assert "\n" not in engine.talk.message and engine.last_answer is None
    engine.ask_text(QUERY)  # typed questions still work through the text teacher
    assert engine.wait_idle(30)
    assert engine.last_answer.intent.label == "Pleural effusion"
    engine.shutdown()


def test_a_speech_model_beside_another_teacher_is_refused(tmp_path: Path) -> None:
    from radvoice.nn.speech_student import HeadConfig, SpeechStudent, StudentConfig
    from radvoice.nn.streaming import ChunkingConfig
    from radvoice.nn.whisper.model import WhisperDims

    small = WhisperDims(n_audio_state=64, n_audio_head=4, n_audio_layer=2)
    cfg = StudentConfig(
        encoder=small,
        head=HeadConfig(width=32, layers=0, heads=2, queries=2),
        chunking=ChunkingConfig(1.0, 0.5),
        encoder_name="random",
    )
    SpeechStudent(cfg).save(tmp_path / "student", teacher_sha256="0" * 64)
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "model.safetensors").write_bytes(b"another teacher")
    models = FakeModels(student_dir=tmp_path / "student")
    models.teacher_dir = tmp_path / "teacher"
    engine = make(models)
    speak_in_chunks(engine, models.speak(QUERY), utt=1)
    assert engine.wait_idle(30)
    assert engine.talk.phase is TalkPhase.ERROR
    assert "distilled from another teacher" in engine.talk.message
    engine.shutdown()


@pytest.mark.slow
def test_streaming_student_encodes_only_the_tail_at_release(tmp_path: Path) -> None:
    """The real chunked student (random head on the shipped Whisper tiny.en encoder)."""
    from radvoice.nn.registry import models_dir
    from radvoice.nn.speech_student import HeadConfig, SpeechStudent

    whisper = models_dir() / "whisper-tiny.en"
    if not whisper.is_dir():
        pytest.skip("models/whisper-tiny.en is not converted")
    student = SpeechStudent.from_whisper(whisper, head=HeadConfig(width=64, layers=1))
    student.save(tmp_path / "student")

    models = FakeModels(student_dir=tmp_path / "student")
    engine = make(models)
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * 4.5)) / 16000
    audio = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    audio += rng.normal(0, 0.01, audio.size).astype(np.float32)
    for start in range(0, audio.size, 1600):
        engine.push_chunk(7, audio[start : start + 1600], start)
    assert engine.wait_idle(60)
    stream = engine._stream
    assert stream.windows_encoded == 2  # the two complete 2 s chunks, while "talking"
    at_reset: list[int] = []
    reset = stream.reset
    stream.reset = lambda: (at_reset.append(stream.windows_encoded), reset())[-1]
    engine.finish_utterance(7, audio)
    assert engine.wait_idle(60)
    answer = engine.last_answer
    offline = SpeechStudent.load(tmp_path / "student").embed_audio(audio)
    assert answer.source == "speech"
    assert at_reset[0] == 3  # key release encoded only the 0.5 s tail window
    assert np.allclose(answer.embedding, offline, atol=1e-4)
    engine.shutdown()


def test_the_engine_imports_no_qt() -> None:
    import subprocess
    import sys

    code = (
        "import sys, radvoice.assistant, radvoice.assistant.library_tasks; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'vtkmodules', 'pyqtgraph'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_typed_text_is_a_question_by_its_form() -> None:
    from radvoice.assistant.intent import text_question_probability

    asked_forms = ("Is there a pleural effusion?", "any nodules", "emphysema", "rule out a hernia")
    for asked in (*asked_forms, "pleural effusion?", "Check for cardiomegaly"):
        assert text_question_probability(asked) == 1.0, asked
    for said in ("There is a small left pleural effusion.", "No pleural effusion is seen", ""):
        assert text_question_probability(said) == 0.0, said
    models = FakeModels()
    engine = make(models)
    engine.ask_text("There is a pleural effusion on the left.")
    assert engine.wait_idle(30)
    assert engine.last_answer.intent.kind is IntentKind.REPORT
    engine.ask_text("is there a pleural effusion")
    assert engine.wait_idle(30)
    assert engine.last_answer.intent.kind is IntentKind.QUERY
    engine.shutdown()
