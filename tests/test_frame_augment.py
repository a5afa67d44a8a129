"""Augmentation of cached encoder frames: shapes kept, MixStyle mixes statistics, masks mask."""

from __future__ import annotations

import pytest
import torch

from radvoice.training.frame_augment import FrameAugment, augment_chunks


def _batch(n: int = 4, channels: int = 8) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        frames = torch.randn(30 + 5 * i, channels, generator=g) * (1 + i) + 3 * i
        out.append(list(torch.split(frames, [10, 10, 10 + 5 * i])))
    return out


def test_no_augmentation_returns_the_batch_itself():
    batch = _batch()
    assert augment_chunks(batch, FrameAugment()) is batch


def test_windows_keep_their_lengths_and_the_input_is_not_changed():
    batch = _batch()
    before = [torch.cat(w).clone() for w in batch]
    torch.manual_seed(1)
    aug = FrameAugment(mixstyle_p=1.0, channel_drop=0.25, time_masks=2, time_mask_frames=5)
    out = augment_chunks(batch, aug)
    assert [[w.shape for w in u] for u in out] == [[w.shape for w in u] for u in batch]
    assert all(torch.equal(torch.cat(w), b) for w, b in zip(batch, before, strict=True))
    assert not all(torch.equal(torch.cat(a), b) for a, b in zip(out, before, strict=True))


def test_mixstyle_gives_each_utterance_a_mix_of_its_own_and_another_style():
    batch = _batch(n=2)
    torch.manual_seed(3)
    out = augment_chunks(batch, FrameAugment(mixstyle_p=1.0, mixstyle_alpha=2.0))
    whole = [torch.cat(w) for w in batch]
    for i, j in ((0, 1), (1, 0)):
        mixed = torch.cat(out[i])
        mu, mu2, new = whole[i].mean(0), whole[j].mean(0), mixed.mean(0)
        lam = (new - mu2) / (mu - mu2)  # one λ for every channel, strictly between 0 and 1
        assert torch.allclose(lam, lam.mean().expand_as(lam), atol=1e-4)
        assert 0.0 < float(lam.mean()) < 1.0
        sd = whole[i].std(0, unbiased=False)
        sd2, new_sd = whole[j].std(0, unbiased=False), mixed.std(0, unbiased=False)
        assert torch.allclose(new_sd, lam * sd + (1 - lam) * sd2, atol=1e-3)
        # the frame-to-frame pattern (the words) is kept: normalised frames are unchanged
        z = (whole[i] - mu) / sd
        assert torch.allclose((mixed - new) / new_sd, z, atol=1e-3)


def test_channel_dropout_zeroes_whole_channels_and_rescales_the_rest():
    batch = _batch(n=1, channels=200)
    torch.manual_seed(0)
    out = torch.cat(augment_chunks(batch, FrameAugment(channel_drop=0.5))[0])
    src = torch.cat(batch[0])
    dropped = (out == 0).all(0)
    assert 60 < int(dropped.sum()) < 140
    assert torch.allclose(out[:, ~dropped], 2.0 * src[:, ~dropped])


def test_time_masks_set_spans_to_the_mean_frame():
    batch = _batch(n=1)
    torch.manual_seed(0)
    out = torch.cat(augment_chunks(batch, FrameAugment(time_masks=3, time_mask_frames=6))[0])
    src = torch.cat(batch[0])
    changed = ~(out == src).all(1)
    assert 0 < int(changed.sum()) <= 18
    assert torch.allclose(out[changed], src.mean(0).expand(int(changed.sum()), -1))


def test_student_config_reads_and_rejects_augmentation_fields():
    from radvoice.training.config import ConfigError
    from radvoice.training.student import StudentSpec

    spec = StudentSpec.from_dict({"augment": {"mixstyle_p": 0.5}})
    assert spec.augment.mixstyle_p == 0.5 and spec.augment.active
    assert not StudentSpec.from_dict({}).augment.active
    with pytest.raises(ConfigError, match="invalid student model config"):
        StudentSpec.from_dict({"augment": {"pitch": 1}})
