"""The shipped command head (``models/commands``) beside the shipped student, on real speech by
the held-out engines (piper, festival: never heard in training): spoken commands route to the
right command through the app's intent rule, questions and findings fire none.

Every command is said once, alternately its first help-panel example by piper and its first
held-out wording (never trained on) by festival. Floors are set below the value measured at shipping
(models/MODEL_CARD.md, "Spoken viewer commands"); a broken model falls far below them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
PIPER = ("piper", "en_US-joe-medium")
FESTIVAL = ("festival", "kal_diphone")
NEGATIVES = [
    "is there any fluid around the lungs",  # spoken questions
    "do you see a spot on the lung",
    "any sign of pneumonia?",
    "rule out a pneumothorax",
    "There is a small left pleural effusion.",  # dictated findings and report parts
    "Mild cardiomegaly is noted.",
    "No enlarged lymph nodes. The central airways are patent.",
    "Emphysema is present.",
]
MIN_RIGHT = 0.85  # of the 29 spoken commands
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (MODELS / "commands").is_dir(), reason="models/commands is not shipped yet"
    ),
]


@pytest.fixture(scope="module")
def models():
    from radvoice.nn.pipeline import RadVoiceModels

    m = RadVoiceModels(root=MODELS, device="cpu")
    m.speech_stream()  # loads the student and attaches the command head
    assert m.commands_problem == "", m.commands_problem
    return m


def voices():
    from radvoice.data.voices import Voice, festival_voices, piper_voices

    if PIPER[1] not in piper_voices() or FESTIVAL[1] not in festival_voices():
        pytest.skip("the held-out TTS engines (piper joe, festival kal) are not installed")
    return Voice(*PIPER), Voice(*FESTIVAL)


def route(models, audio: np.ndarray):
    from radvoice.assistant.intent import classify_intent
    from radvoice.assistant.speech import as_vector, command_of, question_probability

    stream = models.speech_stream()
    stream.push(audio)
    embedding = as_vector(stream.finish())
    return classify_intent(
        models,
        embedding,
        audio.size / 16000,
        None,
        question_probability(stream),
        command_of(stream),
    )


def test_command_head_is_registered_and_pins_the_student_encoder() -> None:
    import json

    from radvoice.nn.registry import verify_file

    for f in ("config.json", "model.safetensors"):
        verify_file(MODELS / "commands" / f, MODELS)
    dims = json.loads((MODELS / "commands" / "config.json").read_text())["dims"]
    student = json.loads((MODELS / "student" / "config.json").read_text())
    assert dims["whisper_sha256"] == student["whisper_sha256"]


def test_held_out_voices_speak_commands_that_route_right(models) -> None:
    from radvoice.assistant.intent import IntentKind
    from radvoice.assistant.voice_commands import COMMAND_NAMES, VOICE_COMMANDS, split_utterances
    from radvoice.data.tts import synthesize

    piper, festival = voices()
    right, wrong = 0, []
    for i, name in enumerate(COMMAND_NAMES):
        text, voice = (
            (VOICE_COMMANDS[name].examples[0], piper)
            if i % 2 == 0
            else (split_utterances(name)[1][0], festival)
        )
        intent = route(models, synthesize(text, voice))
        if intent.kind is IntentKind.COMMAND and intent.command == name:
            right += 1
        else:
            wrong.append((text, voice.engine, intent.kind.value, intent.command))
    share = right / len(COMMAND_NAMES)
    assert share >= MIN_RIGHT, f"{share:.2f} right; missed: {wrong}"


def test_questions_and_findings_by_held_out_voices_fire_no_command(models) -> None:
    from radvoice.assistant.intent import IntentKind
    from radvoice.data.tts import synthesize

    for i, text in enumerate(NEGATIVES):
        voice = voices()[i % 2]
        intent = route(models, synthesize(text, voice))
        assert intent.kind is not IntentKind.COMMAND, (text, voice.engine, intent.command)
