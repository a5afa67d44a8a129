"""espeak-ng: formant synthesis, many English accents and voice variants, native rate and pitch."""

from __future__ import annotations

import shutil

import numpy as np

from radvoice.data.tts.base import EngineMissingError, synthesize_to_wav
from radvoice.data.voices import Voice

DEFAULT_WPM = 175
DEFAULT_PITCH = 50  # espeak-ng -p, 0..99
PITCH_PER_SEMITONE = 6.0


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 audio of ``text`` (already normalised for speech)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EngineMissingError("espeak-ng is not installed (apt-get install espeak-ng)")
    name = f"{voice.voice}+{voice.variant}" if voice.variant else voice.voice
    wpm = int(round(min(450, max(80, DEFAULT_WPM * voice.rate))))
    pitch = int(round(min(99, max(0, DEFAULT_PITCH + PITCH_PER_SEMITONE * voice.pitch))))

    def cmd(out):
        return [exe, "-v", name, "-s", str(wpm), "-p", str(pitch), "-w", str(out), "--", text]

    return synthesize_to_wav(cmd, text, f"espeak-ng voice {name}")
