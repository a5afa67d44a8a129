"""Background model warm-up (radvoice.assistant.warmup) through the assistant engine: the CT
teacher first, the speech student only once the open CT's findings are done, the text encoder
last; the talk and findings messages say what is loading; a failing part is reported and the
rest still load; shutdown joins the thread."""

from __future__ import annotations

import threading
import time

from test_assistant_support import FakeModels, make_volume

from radvoice.assistant import Assistant
from radvoice.assistant.engine import SPEECH_LOADING, SPEECH_READY
from radvoice.components.state import FindingsState, PriorsState, TalkState
from radvoice.errors import RadVoiceError


class PreloadingModels(FakeModels):
    """FakeModels with ``preload``: records the order, can hold the CT part, can fail a part."""

    def __init__(self, fail: str = "") -> None:
        super().__init__()
        self.events: list[str] = []
        self.fail = fail
        self.ct_gate = threading.Event()
        self.ct_gate.set()

    def preload(self, part: str) -> None:
        if part == "ct":
            self.ct_gate.wait(180)
        self.events.append(f"preload {part} on {threading.current_thread().name}")
        if part == self.fail:
            raise RadVoiceError(f"{part} weights missing")

    def embed_volume(self, volume):
        time.sleep(0.3)  # an analysis the speech warm-up must not overtake
        self.events.append("analyse")
        return super().embed_volume(volume)


def wait_for(cond, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_parts_load_in_order_after_the_open_ct_with_visible_state() -> None:
    models = PreloadingModels()
    models.ct_gate.clear()
    talk, findings = TalkState(), FindingsState()
    engine = Assistant(findings, PriorsState(), talk, models)
    assert talk.message == SPEECH_LOADING
    assert findings.status == "Loading the CT model…"
    engine.volume_opened(make_volume(1))
    assert "Loading the CT model, then analysing" in findings.status
    models.ct_gate.set()
    wait_for(lambda: len(models.events) == 4)
    engine.wait_idle(180)
    names = [e.split(" on ")[0] for e in models.events]
    assert names == ["preload ct", "analyse", "preload speech", "preload text"]
    assert all("radvoice-warmup" in e for e in models.events if e.startswith("preload"))
    wait_for(lambda: talk.message == SPEECH_READY)
    assert findings.probabilities is not None
    engine.shutdown()
    assert not [t for t in threading.enumerate() if t.name.startswith("radvoice-")]


def test_a_failing_part_is_reported_and_the_others_still_load() -> None:
    models = PreloadingModels(fail="speech")
    talk = TalkState()
    engine = Assistant(FindingsState(), PriorsState(), talk, models)
    wait_for(lambda: len(models.events) == 3)
    wait_for(lambda: talk.message.startswith("Speech model unavailable: speech weights missing"))
    engine.shutdown()
    assert engine._warmup is not None and not engine._warmup.thread.is_alive()


def test_models_without_preload_load_lazily_and_keep_their_message() -> None:
    talk = TalkState()
    default = talk.message
    engine = Assistant(FindingsState(), PriorsState(), talk, FakeModels())
    assert engine._warmup is None and talk.message == default
    engine.shutdown()
