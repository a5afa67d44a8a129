"""What every TTS engine shares: errors, subprocess calls with timeouts, 16 kHz conversion."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from radvoice.errors import RadVoiceError

SAMPLE_RATE = 16_000


class TTSError(RadVoiceError):
    """Speech synthesis failed (engine missing, timed out, or produced no audio)."""


class EngineMissingError(TTSError):
    """The requested TTS engine is not installed."""


def timeout_for(text: str) -> float:
    """Generous wall-clock limit for one engine call on ``text``."""
    return 30.0 + 0.2 * len(text)


def run_engine(cmd: list[str], timeout: float, what: str, stdin: str | None = None) -> None:
    """Run an engine command; TTSError with a one-line reason on failure."""
    try:
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as err:
        raise EngineMissingError(f"{what}: {cmd[0]} is not installed") from err
    except subprocess.TimeoutExpired as err:
        raise TTSError(f"{what}: timed out after {timeout:.0f} s") from err
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise TTSError(f"{what} failed: {detail}")


def synthesize_to_wav(build_cmd: Callable[[Path], list[str]], text: str, what: str) -> np.ndarray:
    """Run an engine that writes a WAV file (path given to ``build_cmd``); return 16 kHz audio."""
    with tempfile.TemporaryDirectory(prefix="radvoice-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        run_engine(build_cmd(out), timeout_for(text), what)
        if not out.exists() or out.stat().st_size <= 44:
            raise TTSError(f"{what} wrote no audio")
        audio, rate = sf.read(str(out), dtype="float32", always_2d=True)
    return to_16k(audio.mean(axis=1), rate)


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz (torchaudio polyphase resampling)."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate != SAMPLE_RATE and audio.size:
        audio = AF.resample(torch.from_numpy(audio), int(rate), SAMPLE_RATE).numpy()
    return np.ascontiguousarray(audio, dtype=np.float32)


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Raise pitch (and formants) by resampling: the result is ``2**(st/12)`` times shorter.

    Engines without a native pitch control get their pitch this way and are asked for a
    correspondingly slower rate, so the final duration still follows the requested rate.
    """
    if abs(semitones) < 1e-3 or audio.size == 0:
        return audio
    factor = 2.0 ** (semitones / 12.0)
    # Pretend the audio was recorded at rate*factor and resample it back to 16 kHz.
    src = int(round(SAMPLE_RATE * factor / 10.0)) * 10
    out = AF.resample(torch.from_numpy(np.ascontiguousarray(audio)), src, SAMPLE_RATE)
    return out.numpy().astype(np.float32)


def pitch_factor(semitones: float) -> float:
    return float(2.0 ** (semitones / 12.0))


def finish(audio: np.ndarray, what: str) -> np.ndarray:
    """Trim leading/trailing digital silence, normalise peak to 0.9; TTSError if silent."""
    audio = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4:
        raise TTSError(f"{what} produced silence")
    loud = np.flatnonzero(np.abs(audio) > 0.01 * peak)
    pad = SAMPLE_RATE // 20
    start, stop = max(0, loud[0] - pad), min(audio.size, loud[-1] + pad + 1)
    return (audio[start:stop] * (0.9 / peak)).astype(np.float32)
