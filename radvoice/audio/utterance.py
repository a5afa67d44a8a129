"""What the recorder hands to its consumers: streamed chunks and the final utterance."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class RecorderState(StrEnum):
    IDLE = "idle"  # stream open, keeping the pre-roll, waiting for a press
    LISTENING = "listening"  # push-to-talk held (or toggled on)
    FINISHING = "finishing"  # released: capturing the tail
    ERROR = "error"  # no usable microphone; retrying in the background


class TalkMode(StrEnum):
    HOLD = "hold"  # speak while the key is held
    TOGGLE = "toggle"  # first press starts, second press stops


class EndReason(StrEnum):
    RELEASED = "released"  # key released (or toggled off), tail captured
    MAX_LENGTH = "max_length"  # reached the configured maximum length
    DEVICE_LOST = "device_lost"  # the microphone disappeared mid-utterance
    CANCELLED = "cancelled"  # cancel() or the recorder stopped


class Verdict(StrEnum):
    SPEECH = "speech"
    SILENCE = "silence"  # nothing above the speech threshold: "nothing heard"
    TOO_SHORT = "too_short"  # the key was held too briefly


@dataclass(frozen=True)
class AudioChunk:
    """16 kHz mono samples of utterance ``utterance_id`` starting at ``start`` (samples)."""

    utterance_id: int
    samples: np.ndarray
    start: int
    final: bool = False  # the last chunk of the utterance (may be empty)
    arrival: float = 0.0  # time.monotonic() of the newest block that went into it


@dataclass(frozen=True)
class Utterance:
    """One push-to-talk utterance, pre-roll and tail included."""

    utterance_id: int
    audio: np.ndarray  # float32 mono
    sample_rate: int
    reason: EndReason
    verdict: Verdict
    pre_roll_s: float  # audio kept from before the press
    tail_s: float  # audio kept after the release
    peak_dbfs: float
    rms_dbfs: float
    clipped: bool
    speech_s: float  # seconds judged to hold speech
    device: str

    @property
    def duration(self) -> float:
        return self.audio.size / self.sample_rate

    @property
    def heard(self) -> bool:
        """True when the utterance should go to the speech model."""
        return self.verdict is Verdict.SPEECH

    @property
    def message(self) -> str:
        """The short confirmation the UI shows."""
        if self.reason is EndReason.DEVICE_LOST:
            return "microphone unavailable"
        if self.verdict is Verdict.TOO_SHORT:
            return "too short: hold the key while you speak"
        if self.verdict is Verdict.SILENCE:
            return "nothing heard"
        text = f"heard {self.duration:.1f} s"
        if self.reason is EndReason.MAX_LENGTH:
            text += " (maximum length reached)"
        if self.clipped:
            text += " (input clipped: lower the microphone gain)"
        return text
