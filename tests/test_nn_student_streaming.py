"""The speech student: chunked windows, streaming = offline, key-release cost, trainable parts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.nn.speech_student import HeadConfig, SpeechStudent, StudentConfig
from radvoice.nn.streaming import (
    SAMPLES_PER_FRAME,
    ChunkingConfig,
    StreamingError,
    plan_windows,
    utterance_features,
)
from radvoice.nn.whisper.equivalence import synthetic_speechlike
from radvoice.nn.whisper.model import WhisperDims, WhisperModelError

REPO = Path(__file__).resolve().parents[1]
SR = 16000
SMALL = WhisperDims(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=4, n_audio_layer=3)
CHUNKS = ChunkingConfig(chunk_seconds=1.0, context_seconds=0.5)


def _student(train_top_layers: int = 0, head_layers: int = 1) -> SpeechStudent:
    torch.manual_seed(0)
    cfg = StudentConfig(
        encoder=SMALL,
        head=HeadConfig(width=32, layers=head_layers, heads=2, queries=2, out_dim=512, dropout=0.0),
        chunking=CHUNKS,
        train_top_layers=train_top_layers,
    )
    return SpeechStudent(cfg).eval()


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return synthetic_speechlike(3.7, seed=3)


def test_windows_cover_every_sample_once_with_left_context() -> None:
    for n in (SAMPLES_PER_FRAME, 15_999, 16_000, 16_100, 40_000, 59_100):
        windows = plan_windows(n, CHUNKS)
        chunks = [(w.chunk_start, w.end) for w in windows]
        assert chunks[0][0] == 0
        for (_, end), (start, _) in itertools.pairwise(chunks):
            assert start == end  # contiguous
        assert n - chunks[-1][1] < SAMPLES_PER_FRAME  # a sub-frame tail may be dropped
        for w in windows:
            assert w.chunk_start - w.start == min(w.chunk_start, CHUNKS.context_samples)
            assert w.end - w.chunk_start <= CHUNKS.chunk_samples
    with pytest.raises(StreamingError, match="too short"):
        plan_windows(100, CHUNKS)


def test_chunking_config_rejects_unaligned_lengths() -> None:
    with pytest.raises(StreamingError, match="multiple"):
        ChunkingConfig(chunk_seconds=1.01)
    with pytest.raises(StreamingError, match="30 s"):
        ChunkingConfig(chunk_seconds=29.0, context_seconds=2.0)


def test_features_are_per_window_log_mel(audio) -> None:
    feats = utterance_features(audio, CHUNKS)
    assert len(feats) == 4
    assert [f.keep_from for f in feats] == [0, 25, 25, 25]
    assert [f.position for f in feats] == [0, 25, 75, 125]  # encoder frame of each window start
    relative = utterance_features(audio, ChunkingConfig(1.0, 0.5, absolute_positions=False))
    assert [f.position for f in relative] == [0, 0, 0, 0]
    assert [f.mel.shape for f in feats] == [(80, 100), (80, 150), (80, 150), (80, 120)]


def test_streaming_equals_offline_chunked(audio) -> None:
    student = _student()
    offline = student.embed_audio(audio)
    rng = np.random.default_rng(0)
    session = student.stream()
    pos = 0
    while pos < len(audio):
        step = int(rng.integers(100, 7000))
        session.push(audio[pos : pos + step])
        pos += step
    streamed = session.finish().numpy()
    np.testing.assert_allclose(streamed, offline, atol=2e-5)
    assert np.linalg.norm(offline) == pytest.approx(1.0, abs=1e-5)
    # int16 PCM in pieces gives the same as its float version
    pcm = np.round(audio * 32767).astype(np.int16)
    session.reset()
    session.push(pcm[:20_000])
    session.push(pcm[20_000:])
    np.testing.assert_allclose(
        session.finish().numpy(), student.embed_audio(pcm / 32768.0), atol=2e-5
    )


def test_key_release_encodes_only_the_last_chunk(audio) -> None:
    student = _student()
    head_windows = []
    window = student.head.window
    student.head.window = lambda x, mask=None: head_windows.append(x.shape[1]) or window(x, mask)
    session = student.stream()
    assert session.push(audio) == 3  # 3 full 1 s chunks encoded while talking
    assert head_windows == [50, 50, 50]  # and their head layers run right away
    before = session.windows_encoded, session.frames_encoded
    session.finish()
    assert head_windows == [50, 50, 50, 35]  # release: only the 0.7 s tail
    assert session.windows_encoded - before[0] == 1
    tail_frames = session.frames_encoded - before[1]
    assert tail_frames == (CHUNKS.context_samples + len(audio) - 3 * SR) // 160
    # release right at a chunk boundary: nothing left to encode, only the head runs
    session.reset()
    session.push(audio[: 2 * SR])
    n = session.windows_encoded
    session.finish()
    assert session.windows_encoded == n == 2


def test_batch_of_utterances_matches_one_at_a_time(audio) -> None:
    student = _student(head_layers=1)
    clips = [audio, audio[:9000], audio[5000:30000]]
    with torch.no_grad():
        batch = student([student.features(c) for c in clips])
    assert batch.shape == (3, 512)
    for i, c in enumerate(clips):
        np.testing.assert_allclose(batch[i].numpy(), student.embed_audio(c), atol=2e-5)


def test_gradients_reach_only_trainable_parts(audio) -> None:
    student = _student(train_top_layers=1)
    student.train()
    feats = [student.features(audio), student.features(audio[:20000])]
    out = student(feats)
    (out @ torch.randn(512)).sum().backward()
    trainable = {id(p) for p in student.trainable_parameters()}
    for name, p in student.named_parameters():
        if (
            name.startswith("head.")
            or name.startswith("encoder.blocks.2.")
            or name.startswith("encoder.ln_post")
        ):
            assert id(p) in trainable and p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert id(p) not in trainable and p.grad is None, name
    frozen = _student(train_top_layers=0)
    assert all(n.startswith("head.") for n, p in frozen.named_parameters() if p.requires_grad)
    with pytest.raises(WhisperModelError, match="train_top_layers"):
        StudentConfig(encoder=SMALL, train_top_layers=4)


def test_save_load_roundtrip(tmp_path, audio) -> None:
    student = _student(train_top_layers=1)
    student.save(tmp_path / "student")
    loaded = SpeechStudent.load(tmp_path / "student")
    assert loaded.config == student.config
    np.testing.assert_allclose(loaded.embed_audio(audio), student.embed_audio(audio), atol=1e-6)


def test_from_shipped_whisper_tiny_en(audio) -> None:
    student = SpeechStudent.from_whisper(
        REPO / "models" / "whisper-tiny.en", head=HeadConfig(width=64, layers=0, heads=2, queries=2)
    )
    assert student.config.encoder.n_audio_state == 384
    assert student.config.encoder_name == "whisper-tiny.en"
    emb = student.embed_audio(audio[: 2 * SR])
    assert emb.shape == (512,) and np.isfinite(emb).all()


def test_bad_audio_is_a_clear_error() -> None:
    student = _student()
    with pytest.raises(StreamingError, match="too short"):
        student.embed_audio(np.zeros(50, np.float32))
    with pytest.raises(StreamingError, match="mono"):
        student.embed_audio(np.zeros((2, 16000), np.float32))
    with pytest.raises(StreamingError, match="NaN"):
        student.embed_audio(np.full(16000, np.nan, np.float32))
    with pytest.raises(StreamingError, match="no speech"):
        student.stream().finish()


def test_question_head_streams_beside_the_embedding(audio, tmp_path: Path) -> None:
    from dataclasses import replace

    from radvoice.nn.speech_student import QUESTION_HEAD

    torch.manual_seed(0)
    student = SpeechStudent(replace(_student().config, question=QUESTION_HEAD)).eval()
    with torch.no_grad():
        offline = student.question_logits(student.encode_chunks([student.features(audio)]))
    session = student.stream()
    for start in range(0, audio.size, 3001):
        session.push(audio[start : start + 3001])
    embedding = session.finish()
    np.testing.assert_allclose(embedding.numpy(), student.embed_audio(audio), atol=2e-5)
    assert float(session.outputs["question"]) == pytest.approx(float(offline[0]), abs=1e-4)
    session.reset()
    assert session.outputs == {}
    student.save(tmp_path / "q", encoder="full")
    loaded = SpeechStudent.load(tmp_path / "q")
    assert loaded.config.question == QUESTION_HEAD
    with torch.no_grad():
        again = loaded.question_logits(loaded.encode_chunks([loaded.features(audio)]))
    assert float(again[0]) == pytest.approx(float(offline[0]), abs=1e-4)
    plain = _student()
    assert plain.question is None and plain.stream().outputs == {}
    with pytest.raises(WhisperModelError, match="no question head"):
        plain.question_logits([])
