"""flite: CMU's small engine with built-in voices (kal, kal16, awb, rms, slt); native rate."""

from __future__ import annotations

import shutil

import numpy as np

from radvoice.data.tts.base import (
    EngineMissingError,
    pitch_factor,
    shift_pitch,
    synthesize_to_wav,
)
from radvoice.data.voices import Voice


def available() -> bool:
    return shutil.which("flite") is not None


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 audio; pitch by resampling (the engine is asked to speak slower)."""
    exe = shutil.which("flite")
    if exe is None:
        raise EngineMissingError("flite is not installed (apt-get install flite)")
    stretch = pitch_factor(voice.pitch) / voice.rate

    def cmd(out):
        return [
            exe,
            "-voice",
            voice.voice,
            "--setf",
            f"duration_stretch={stretch:.4f}",
            "-t",
            text,
            "-o",
            str(out),
        ]

    audio = synthesize_to_wav(cmd, text, f"flite voice {voice.voice}")
    return shift_pitch(audio, voice.pitch)
