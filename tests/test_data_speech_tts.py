"""TTS engines: plausible, non-silent speech at 16 kHz; rate and pitch change what they should."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pytest

from radvoice.data import tts
from radvoice.data.tts import base
from radvoice.data.tts.text import normalize_for_speech, split_sentences
from radvoice.data.voices import (
    ENGINES,
    Voice,
    identity,
    parse_engines,
    voice_catalog,
)
from radvoice.errors import RadVoiceError

SR = 16_000
SENTENCE = "There is a small right pleural effusion and mild atelectasis in the left lower lobe."
ONE_VOICE = {
    "espeak-ng": Voice("espeak-ng", "en-gb", "f2"),
    "flite": Voice("flite", "kal16"),
    "festival": Voice("festival", "kal_diphone"),
    "piper": Voice("piper", "en_US-joe-medium"),
}
INSTALLED = tts.available_engines()


def _engine_param(engine: str) -> Any:
    mark = pytest.mark.skipif(engine not in INSTALLED, reason=f"{engine} not installed")
    return pytest.param(engine, marks=mark, id=engine)


ENGINE_PARAMS = [_engine_param(e) for e in ENGINES]


def frame_rms(audio: np.ndarray, frame: int = 320) -> np.ndarray:
    n = audio.size // frame
    return np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))


def median_f0(audio: np.ndarray) -> float:
    """Median autocorrelation pitch over loud, periodic 40 ms frames."""
    frame, hop, peak, found = 640, 320, float(np.abs(audio).max()), []
    lo, hi = SR // 400, SR // 60
    for s in range(0, audio.size - frame, hop):
        x = audio[s : s + frame] - audio[s : s + frame].mean()
        if np.sqrt(np.mean(x**2)) < 0.1 * peak:
            continue
        ac = np.correlate(x, x, "full")[frame - 1 :]
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5 * ac[0]:
            found.append(SR / k)
    assert len(found) > 10, "too few voiced frames"
    return float(np.median(found))


@pytest.fixture(scope="module")
def spoken() -> dict[str, np.ndarray]:
    return {e: tts.synthesize(SENTENCE, ONE_VOICE[e]) for e in INSTALLED}


def test_this_machine_has_every_engine() -> None:
    # setup.sh installs all four; a missing one is a broken environment, not a skip
    assert set(INSTALLED) == set(ENGINES)


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_engine_output_is_plausible_speech(engine: str, spoken: dict[str, np.ndarray]) -> None:
    audio = spoken[engine]
    assert audio.dtype == np.float32 and audio.ndim == 1
    seconds_per_char = audio.size / SR / len(SENTENCE)
    assert 0.035 < seconds_per_char < 0.15, seconds_per_char
    rms = frame_rms(audio)
    assert float(np.sqrt(np.mean(audio**2))) > 0.03  # not silent
    loud = rms > 0.1 * rms.max()
    assert 0.35 < loud.mean() < 0.98  # speech with gaps, not a tone or noise burst
    assert rms.std() / rms.mean() > 0.4  # syllabic energy modulation
    assert np.abs(audio).max() <= 1.0


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_faster_rate_is_shorter(engine: str, spoken: dict[str, np.ndarray]) -> None:
    fast = tts.synthesize(SENTENCE, ONE_VOICE[engine].with_prosody(rate=1.6, pitch=0.0))
    ratio = fast.size / spoken[engine].size
    assert ratio < 0.85, ratio  # 1/1.6 = 0.63 expected; piper's durations are stochastic


@pytest.mark.parametrize("engine", ["espeak-ng", "festival"])
def test_pitch_shift_raises_f0(engine: str, spoken: dict[str, np.ndarray]) -> None:
    if engine not in INSTALLED:
        pytest.skip(f"{engine} not installed")
    high = tts.synthesize(SENTENCE, ONE_VOICE[engine].with_prosody(rate=1.0, pitch=5.0))
    ratio = median_f0(high) / median_f0(spoken[engine])
    assert 1.15 < ratio < 1.6, ratio  # +5 semitones = x1.33


def test_voice_ids_and_catalog() -> None:
    v = Voice("espeak-ng", "en-gb-scotland", "m3", rate=1.1, pitch=-2)
    assert v.speaker == "espeak-ng:en-gb-scotland+m3"
    assert Voice.from_speaker(v.speaker) == Voice("espeak-ng", "en-gb-scotland", "m3")
    assert Voice.from_dict(v.to_dict()) == v
    with pytest.raises(ValueError):
        Voice("sam", "x")
    with pytest.raises(ValueError):
        Voice("flite", "slt", rate=5.0)
    cat = voice_catalog()
    by_engine = {e: [c for c in cat if c.engine == e] for e in ENGINES}
    assert len(by_engine["espeak-ng"]) >= 50 and len(by_engine["flite"]) >= 4
    assert {v.voice for v in by_engine["festival"]} >= {"kal_diphone"}
    assert identity(Voice("flite", "kal16")) == identity(Voice("festival", "kal_diphone"))
    assert identity(Voice("espeak-ng", "en-us", "m3")) == identity(
        Voice("espeak-ng", "en-gb", "m3")
    )
    assert parse_engines("espeak,flite") == ("espeak-ng", "flite")
    assert parse_engines("all") == ENGINES and parse_engines("none") == ()
    with pytest.raises(ValueError, match="unknown"):
        parse_engines("espeak-ng,sam")


def test_text_normalisation_for_speech() -> None:
    said = normalize_for_speech(
        "A 3.2 x 2.1 cm mass; 6 mm nodule, 40 HU. Atelectasis and emphysema."
    )
    assert "3.2 by 2.1 centimeters" in said and "6 millimeters" in said
    assert "40 Hounsfield units" in said and "Atta lecta sis" in said and "emfa seema" in said
    assert "cm" not in said.split() and ";" not in said
    assert split_sentences("Nodule of 3.5 mm. No effusion! Is it new? yes") == [
        "Nodule of 3.5 mm.",
        "No effusion!",
        "Is it new? yes",
    ]


def test_missing_engine_and_failures_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(tts.TTSError, match="empty"):
        tts.synthesize("  ", ONE_VOICE["espeak-ng"])
    with pytest.raises(tts.TTSError, match="timed out"):
        base.run_engine(["sleep", "5"], timeout=0.2, what="sleepy engine")
    with pytest.raises(tts.TTSError, match="failed"):
        base.run_engine(["false"], timeout=5, what="false engine")
    with pytest.raises(tts.EngineMissingError):
        base.run_engine(["/nonexistent/tts-binary"], timeout=5, what="ghost")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(tts.EngineMissingError, match="not installed") as info:
        tts.synthesize(SENTENCE, ONE_VOICE["flite"])
    assert isinstance(info.value, RadVoiceError)
    with pytest.raises(tts.TTSError, match="silence"):
        base.finish(np.zeros(1000, np.float32), "mute engine")
