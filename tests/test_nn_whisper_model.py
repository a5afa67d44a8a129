"""The torch Whisper encoder: variable length, masked batches, layer slices, persistence."""

from __future__ import annotations

import math

import pytest
import torch

from radvoice.nn.registry import ModelIntegrityError
from radvoice.nn.whisper.model import (
    AudioEncoder,
    WhisperDims,
    WhisperModelError,
    load_encoder,
    save_encoder,
    sinusoids,
)

SMALL = WhisperDims(n_mels=80, n_audio_ctx=200, n_audio_state=64, n_audio_head=4, n_audio_layer=3)


@pytest.fixture()
def encoder() -> AudioEncoder:
    torch.manual_seed(0)
    return AudioEncoder(SMALL).eval()


def test_output_length_is_ceil_half_of_input(encoder) -> None:
    with torch.no_grad():
        for frames in (1, 2, 7, 100, 101):
            out = encoder(torch.randn(2, 80, frames))
            assert out.shape == (2, math.ceil(frames / 2), 64)


def test_masked_batch_equals_each_window_alone(encoder) -> None:
    lengths = [50, 37, 12]
    mels = [torch.randn(80, n) for n in lengths]
    batch = torch.zeros(3, 80, 50)
    for i, m in enumerate(mels):
        batch[i, :, : m.shape[-1]] = m
        batch[i, :, m.shape[-1] :] = 5.0  # garbage in the padding must not leak
    with torch.no_grad():
        together = encoder(batch, torch.tensor(lengths))
        for i, m in enumerate(mels):
            alone = encoder(m[None])[0]
            n = alone.shape[0]
            torch.testing.assert_close(together[i, :n], alone, atol=1e-5, rtol=1e-4)
            assert torch.all(together[i, n:] == 0)


def test_layer_slices_compose_to_the_full_forward(encoder) -> None:
    mel = torch.randn(2, 80, 40)
    with torch.no_grad():
        full = encoder(mel)
        hidden, mask = encoder.embed(mel)
        low = encoder(None, hidden=hidden, key_mask=mask, end_layer=1)
        top = encoder(None, hidden=low, key_mask=mask, start_layer=1)
    torch.testing.assert_close(top, full)


def test_position_offsets_shift_and_clamp(encoder) -> None:
    mel = torch.randn(3, 80, 60)  # 30 encoder frames
    with torch.no_grad():
        shifted, _ = encoder.embed(mel, offsets=torch.tensor([0, 7, 190]))
        plain, _ = encoder.embed(mel)
        pe = encoder.positional_embedding
        torch.testing.assert_close(shifted[0], plain[0])
        torch.testing.assert_close(shifted[1] - plain[1], pe[7:37] - pe[:30])
        # 190 + 30 > n_audio_ctx = 200: the window keeps the last 30 positions
        torch.testing.assert_close(shifted[2] - plain[2], pe[170:200] - pe[:30])
        # a masked batch with offsets equals each row alone
        lengths = torch.tensor([60, 41, 20])
        together = encoder(mel, lengths, torch.tensor([3, 9, 100]))
        for i, (n, o) in enumerate(zip(lengths.tolist(), [3, 9, 100], strict=True)):
            alone = encoder(mel[i : i + 1, :, :n], None, torch.tensor([o]))[0]
            torch.testing.assert_close(together[i, : alone.shape[0]], alone, atol=1e-5, rtol=1e-4)


def test_positions_are_whisper_sinusoids() -> None:
    pos = sinusoids(1500, 384)
    assert pos.shape == (1500, 384)
    assert torch.allclose(pos[0, :192], torch.zeros(192)) and torch.allclose(
        pos[0, 192:], torch.ones(192)
    )


def test_bad_inputs_raise_clear_errors(encoder) -> None:
    with pytest.raises(WhisperModelError, match="mel features"):
        encoder(torch.randn(1, 40, 10))
    with pytest.raises(WhisperModelError, match="exceed"):
        encoder(torch.randn(1, 80, 2 * SMALL.n_audio_ctx + 2))
    with pytest.raises(WhisperModelError, match="dims"):
        WhisperDims.from_dict({"n_mels": 80})


def test_save_load_roundtrip_is_checked(tmp_path, encoder) -> None:
    save_encoder(encoder, tmp_path / "enc", extra={"source": "test"}, dtype=torch.float32)
    loaded = load_encoder(tmp_path / "enc")
    assert loaded.dims == SMALL
    mel = torch.randn(1, 80, 30)
    with torch.no_grad():
        torch.testing.assert_close(loaded(mel), encoder(mel))
    (tmp_path / "enc" / "config.json").write_text("{}")
    with pytest.raises(ModelIntegrityError):
        load_encoder(tmp_path / "enc")
