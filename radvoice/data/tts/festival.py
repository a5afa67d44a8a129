"""Festival (text2wave) with the Debian festvox voices: diphone (kal, ked) and HTS (slt)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from radvoice.data.tts.base import (
    EngineMissingError,
    pitch_factor,
    shift_pitch,
    synthesize_to_wav,
)
from radvoice.data.voices import Voice


def available() -> bool:
    return shutil.which("text2wave") is not None


def _scheme(voice: Voice) -> tuple[list[str], bool]:
    """Scheme expressions selecting the voice and prosody; True if pitch is native."""
    exprs = [f"(voice_{voice.voice})"]
    if voice.voice.endswith("_hts"):
        # hts_engine options: -r speech speed, -fm additional half-tones.
        exprs.append(
            "(set! hts_engine_params (append hts_engine_params "
            f'(list \'("-r" {voice.rate:.4f}) \'("-fm" {voice.pitch:.4f}))))'
        )
        return exprs, True
    stretch = pitch_factor(voice.pitch) / voice.rate
    exprs.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
    return exprs, False


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 audio of ``text``."""
    exe = shutil.which("text2wave")
    if exe is None:
        raise EngineMissingError("festival is not installed (apt-get install festival)")
    exprs, native_pitch = _scheme(voice)
    with tempfile.TemporaryDirectory(prefix="radvoice-festival-") as tmp:
        txt = Path(tmp) / "in.txt"
        txt.write_text(text + "\n", encoding="utf-8")

        def cmd(out):
            args = [exe]
            for e in exprs:
                args += ["-eval", e]
            return [*args, str(txt), "-o", str(out)]

        audio = synthesize_to_wav(cmd, text, f"festival voice {voice.voice}")
    return audio if native_pitch else shift_pitch(audio, voice.pitch)
