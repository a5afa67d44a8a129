"""Offline text to speech: espeak-ng, flite, festival and piper behind one call.

``synthesize(text, voice)`` returns float32 mono 16 kHz audio, peak-normalised, with leading and
trailing silence trimmed. Text is normalised for speech first (units, respellings).
"""

from __future__ import annotations

import numpy as np

from radvoice.data.tts import espeak, festival, flite, piper_engine
from radvoice.data.tts.base import SAMPLE_RATE, EngineMissingError, TTSError, finish
from radvoice.data.tts.text import normalize_for_speech, split_sentences
from radvoice.data.voices import Voice

__all__ = [
    "SAMPLE_RATE",
    "EngineMissingError",
    "TTSError",
    "available_engines",
    "normalize_for_speech",
    "split_sentences",
    "synthesize",
]

_ENGINES = {
    "espeak-ng": espeak,
    "flite": flite,
    "festival": festival,
    "piper": piper_engine,
}


def available_engines() -> list[str]:
    """Engines installed on this machine."""
    return [name for name, mod in _ENGINES.items() if mod.available()]


def synthesize(text: str, voice: Voice, normalize: bool = True) -> np.ndarray:
    """Speak ``text`` with ``voice``: float32 mono 16 kHz. TTSError on failure."""
    if not str(text).strip():
        raise TTSError("nothing to say: empty text")
    engine = _ENGINES.get(voice.engine)
    if engine is None:
        raise TTSError(f"unknown TTS engine {voice.engine!r}")
    spoken = normalize_for_speech(text) if normalize else str(text)
    audio = engine.synthesize(spoken, voice)
    return finish(audio, f"{voice.engine} voice {voice.speaker}")
