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


def _scheme(voice: Voice) -> list[str]:
    """Scheme expressions selecting the voice and its speed.

    Pitch is applied afterwards by resampling (``-fm`` is ignored by Festival's hts_engine),
    so the engine is asked for a correspondingly slower rate.
    """
    speed = voice.rate / pitch_factor(voice.pitch)
    exprs = [f"(voice_{voice.voice})"]
    if voice.voice.endswith("_hts"):  # hts_engine option -r: speech speed factor
        exprs.append(
            f'(set! hts_engine_params (append hts_engine_params (list \'("-r" {speed:.4f}))))'
        )
    else:
        exprs.append(f"(Parameter.set 'Duration_Stretch {1.0 / speed:.4f})")
    return exprs


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 audio of ``text``."""
    exe = shutil.which("text2wave")
    if exe is None:
        raise EngineMissingError("festival is not installed (apt-get install festival)")
    exprs = _scheme(voice)
    with tempfile.TemporaryDirectory(prefix="radvoice-festival-") as tmp:
        txt = Path(tmp) / "in.txt"
        txt.write_text(text + "\n", encoding="utf-8")

        def cmd(out):
            args = [exe]
            for e in exprs:
                args += ["-eval", e]
            return [*args, str(txt), "-o", str(out)]

        audio = synthesize_to_wav(cmd, text, f"festival voice {voice.voice}")
    return shift_pitch(audio, voice.pitch)
