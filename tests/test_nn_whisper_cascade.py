"""ASR cascade baseline: ctranslate2 Whisper tiny.en transcribes, a text embedder embeds."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from radvoice.audio.loading import load_audio
from radvoice.nn.whisper.cascade import AsrCascade
from radvoice.nn.whisper.model import WhisperModelError


@pytest.fixture(scope="module")
def cascade() -> AsrCascade:
    return AsrCascade(
        "tiny.en", threads=1, embed_text=lambda text: np.full(4, len(text), np.float32)
    )


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required (scripts/setup.sh installs it)")
    wav = tmp_path_factory.mktemp("tts") / "q.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "en-us",
            "-s",
            "140",
            "-w",
            str(wav),
            "There is fluid around the heart.",
        ],
        check=True,
    )
    return load_audio(wav)


def test_transcribes_and_embeds_a_spoken_finding(cascade, spoken) -> None:
    result = cascade.run(spoken)
    words = result.text.lower()
    assert "fluid" in words and "heart" in words, result.text
    assert result.embedding is not None and result.embedding[0] == len(result.text)
    assert result.transcribe_ms > 0 and result.embed_ms >= 0
    np.testing.assert_array_equal(cascade.embed_audio(spoken), result.embedding)


def test_long_audio_is_cut_into_30s_segments(cascade) -> None:
    audio = np.zeros(16000 * 40, np.float32)
    segments = cascade.segments(audio)
    assert [s.shape for s in segments] == [(80, 3000), (80, 3000)]
    assert cascade.prompt == ["<|startoftranscript|>", "<|notimestamps|>"]  # English-only model


def test_too_short_audio_is_a_clear_error(cascade) -> None:
    with pytest.raises(WhisperModelError, match="too short"):
        cascade.transcribe(np.zeros(10, np.float32))
