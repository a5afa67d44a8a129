"""Spoken viewer commands: the catalogue and its held-out phrasings, the intent rule (command vs
question vs report, threshold, length, setting), and the engine handing commands to its handler."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_assistant_support import REPORTS, FakeModels, make_volume

from radvoice.app.state import FindingsState, PriorsState, TalkState
from radvoice.assistant import Assistant, AssistantConfig, IntentKind, IntentRules, classify_intent
from radvoice.assistant.intent import best_command
from radvoice.assistant.speech import BufferedStream
from radvoice.assistant.voice_commands import (
    COMMAND_NAMES,
    NOT_A_COMMAND,
    VOICE_COMMANDS,
    core_phrasings,
    held_out_cores,
    split_utterances,
    typed_command,
)

QUERY = "Is there a pleural effusion?"
CONTRACT = """view.preset.lung view.preset.mediastinum view.preset.bone view.preset.brain
view.preset.header render.preset.ct-bone render.preset.ct-lung render.preset.soft-tissue
render.preset.mip view.slice.next view.slice.previous view.slice.first view.slice.last
view.maximize.axial view.maximize.coronal view.maximize.sagittal view.restore view.zoom.in
view.zoom.out view.reset view.crosshair priors.show priors.compare heatmap.toggle heatmap.jump
file.screenshot file.export_findings voice.undo voice.help""".split()
CLASSES = [*COMMAND_NAMES, NOT_A_COMMAND]


# -- catalogue ------------------------------------------------------------------------------
def test_catalogue_names_the_contracts_commands_with_titles_and_examples() -> None:
    assert sorted(VOICE_COMMANDS) == sorted(CONTRACT)
    for name, spec in VOICE_COMMANDS.items():
        assert spec.name == name and spec.title and spec.examples
        assert set(spec.examples) <= set(core_phrasings(name))


def test_held_out_phrasings_never_train_and_every_command_has_both() -> None:
    all_train: dict[str, str] = {}
    for name in COMMAND_NAMES:
        train, held = split_utterances(name)
        assert train and held and not set(train) & set(held)
        assert set(VOICE_COMMANDS[name].examples) <= set(train)  # help-panel wordings train
        assert split_utterances(name) == (train, held)  # deterministic
        for core in held_out_cores(name):  # a held-out composition is never heard at all
            assert not [t for t in train if t.endswith(core) or f"{core} " in t]
        assert len(held) >= 0.1 * len(train)
        for t in train:
            assert all_train.setdefault(t, name) == name, f"{t!r} trains two commands"
    assert "scratch that" in split_utterances("voice.undo")[0]


def test_radiological_scroll_convention() -> None:
    assert typed_command("scroll down") == "view.slice.next"
    assert typed_command("next image") == "view.slice.next"
    assert typed_command("scroll up") == "view.slice.previous"
    assert typed_command("back one") == "view.slice.previous"


def test_typed_commands_ignore_politeness_and_fillers_but_not_questions() -> None:
    assert typed_command("Uh, lung window please") == "view.preset.lung"
    assert typed_command("could you zoom in?") == "view.zoom.in"
    assert typed_command("Scratch that.") == "voice.undo"
    assert typed_command(QUERY) is None
    assert typed_command("there is a small pleural effusion") is None


# -- the intent rule ----------------------------------------------------------------------------
def test_command_only_above_threshold_short_and_not_claimed_by_the_question_rule() -> None:
    models = FakeModels()
    e = models.embed_text("lung window")
    cmd = ("view.preset.lung", 0.93)
    got = classify_intent(models, e, 1.2, None, question_probability=0.05, command=cmd)
    assert got.kind is IntentKind.COMMAND and got.command == "view.preset.lung"
    assert got.command_probability == pytest.approx(0.93)
    low = classify_intent(models, e, 1.2, None, 0.05, ("view.preset.lung", 0.3))
    assert low.kind is IntentKind.REPORT and low.command is None
    strict = IntentRules(command_threshold=0.95)
    assert classify_intent(models, e, 1.2, strict, 0.05, cmd).kind is IntentKind.REPORT
    long = classify_intent(models, e, 7.0, None, 0.05, cmd)
    assert long.kind is IntentKind.REPORT  # a dictated report part never fires a command
    # a question the question rule claims stays a question, whatever the command head says
    q = models.embed_text(QUERY)
    asked = classify_intent(models, q, 1.5, None, 0.95, ("view.preset.lung", 0.99))
    assert asked.kind is IntentKind.QUERY and asked.command is None
    none = classify_intent(models, e, 1.2, None, 0.05, None)  # no command head: as before
    assert none.kind is IntentKind.REPORT


def test_best_command_skips_the_none_class() -> None:
    p = np.full(len(CLASSES), 0.001)
    p[-1] = 0.9
    p[CLASSES.index("view.zoom.in")] = 0.08
    assert best_command(CLASSES, p) == ("view.zoom.in", pytest.approx(0.08))
    assert best_command(CLASSES, p[:3]) is None  # classes and probabilities disagree


# -- the engine -------------------------------------------------------------------------------
class HeadStream(BufferedStream):
    """A speech model with a question head and a command head (logits per class)."""

    def __init__(self, embed, question: float, command: str | None) -> None:
        super().__init__(embed)
        self.question, self.command = question, command
        self.outputs: dict = {}
        self.classes = {"command": CLASSES}

    def finish(self):
        z = np.full(len(CLASSES), -4.0, np.float32)
        z[CLASSES.index(self.command or NOT_A_COMMAND)] = 4.0
        self.outputs = {"question": np.float32(self.question), "command": z}
        return super().finish()


def engine_for(question: float, command: str | None, **config) -> tuple[Assistant, list]:
    models = FakeModels()
    models.speech_stream = lambda: HeadStream(models.embed_audio, question, command)
    engine = Assistant(
        FindingsState(), PriorsState(), TalkState(), models, config=AssistantConfig(**config)
    )
    calls: list = []
    engine.set_command_handler(
        lambda name, p: calls.append((name, p, threading.current_thread().name))
    )
    return engine, calls


def say(engine: Assistant, text: str, utt: int = 1) -> None:
    audio = engine.models.speak(text)  # type: ignore[union-attr]
    for start in range(0, audio.size, 1600):
        engine.push_chunk(utt, audio[start : start + 1600], start)
    engine.finish_utterance(utt, audio)
    assert engine.wait_idle(30)


def test_a_spoken_command_goes_to_the_handler_not_to_findings_or_priors() -> None:
    engine, calls = engine_for(-4.0, "view.preset.lung")
    engine.volume_opened(make_volume(2))
    assert engine.wait_idle(30)
    say(engine, "uh lung window please")
    assert [(n, t.startswith("radvoice-speech")) for n, _, t in calls] == [
        ("view.preset.lung", True)
    ]
    assert calls[0][1] == pytest.approx(np.exp(4) / (np.exp(4) + (len(CLASSES) - 1) * np.exp(-4)))
    answer = engine.last_answer
    assert answer.intent.kind is IntentKind.COMMAND and answer.intent.command == "view.preset.lung"
    assert engine.findings.queried_label is None and engine.priors.results == ()
    assert "Lung window" in engine.talk.message
    engine.shutdown()


def test_questions_and_findings_do_not_fire_commands() -> None:
    engine, calls = engine_for(4.0, None)  # the command head says "none"
    engine.volume_opened(make_volume(2))
    say(engine, QUERY)
    assert engine.last_answer.intent.kind is IntentKind.QUERY
    engine.shutdown()
    engine, calls2 = engine_for(-4.0, None)
    say(engine, REPORTS[0])
    assert engine.last_answer.intent.kind is IntentKind.REPORT
    engine.shutdown()
    assert calls == calls2 == []


def test_disabled_setting_and_threshold_setting() -> None:
    engine, calls = engine_for(-4.0, "view.zoom.in", voice_commands=False)
    say(engine, "zoom in")
    assert calls == [] and engine.last_answer.intent.kind is IntentKind.REPORT
    engine.ask_text("zoom in")  # typed commands obey the setting too
    assert engine.wait_idle(30) and calls == []
    engine.shutdown()
    engine, calls = engine_for(-4.0, "view.zoom.in", command_threshold=0.999)
    say(engine, "zoom in")
    assert calls == [] and engine.last_answer.intent.kind is IntentKind.REPORT
    engine.shutdown()


def test_typed_command_and_missing_handler() -> None:
    engine, calls = engine_for(-4.0, None)
    engine.ask_text("scratch that")
    assert engine.wait_idle(30)
    assert [c[:2] for c in calls] == [("voice.undo", 1.0)]
    engine.set_command_handler(None)
    engine.ask_text("lung window")
    assert engine.wait_idle(30)
    assert len(calls) == 1 and "not available" in engine.talk.message
    assert engine.last_answer.intent.command == "view.preset.lung"
    engine.shutdown()
