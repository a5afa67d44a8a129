"""Augmentation of cached encoder frames while a speech head trains (the encoder is frozen, so
the audio cannot change any more; its frames can).

- **MixStyle** (Zhou et al., ICLR 2021): an utterance's per-channel frame statistics (mean and
  standard deviation over time) carry the voice and the channel more than the words. Swapping a
  random mix of them with another utterance's in the batch makes styles the head never heard,
  so it learns to rely on what the statistics do not hold. Each utterance is mixed with
  probability ``mixstyle_p``, weight λ ~ Beta(``mixstyle_alpha``, ``mixstyle_alpha``).
- **Channel dropout**: whole feature channels zeroed per utterance (rescaled), as SpecAugment
  masks frequency bands.
- **Time masks**: ``time_masks`` spans of up to ``time_mask_frames`` frames per utterance set
  to the utterance's mean frame.

All draws come from torch's global generator, which the training loop seeds per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class FrameAugment:
    mixstyle_p: float = 0.0
    mixstyle_alpha: float = 0.1
    channel_drop: float = 0.0
    time_masks: int = 0
    time_mask_frames: int = 10

    @property
    def active(self) -> bool:
        return self.mixstyle_p > 0 or self.channel_drop > 0 or self.time_masks > 0


def _stats(frames: Tensor) -> tuple[Tensor, Tensor]:
    mu = frames.mean(0)
    return mu, (frames.var(0, unbiased=False) + 1e-5).sqrt()


def augment_chunks(chunks: list[list[Tensor]], aug: FrameAugment) -> list[list[Tensor]]:
    """Augmented copies of a batch of utterances given as window frame lists ``(T_w, C)``."""
    if not aug.active or not chunks:
        return chunks
    whole = [torch.cat(windows) for windows in chunks]
    lengths = [[w.shape[0] for w in windows] for windows in chunks]
    stats = [_stats(f) for f in whole] if aug.mixstyle_p > 0 else []
    n = len(whole)
    out = []
    for i, frames in enumerate(whole):
        x = frames
        if aug.mixstyle_p > 0 and n > 1 and torch.rand(()) < aug.mixstyle_p:
            j = int(torch.randint(n - 1, ()))
            j += j >= i  # another utterance of the batch
            lam = torch.distributions.Beta(aug.mixstyle_alpha, aug.mixstyle_alpha).sample()
            (mu, sd), (mu2, sd2) = stats[i], stats[j]
            x = (x - mu) / sd * (lam * sd + (1 - lam) * sd2) + (lam * mu + (1 - lam) * mu2)
        if aug.channel_drop > 0:
            keep = (torch.rand(x.shape[-1], device=x.device) >= aug.channel_drop).to(x.dtype)
            x = x * keep / max(1.0 - aug.channel_drop, 1e-6)
        if aug.time_masks > 0 and x.shape[0] > 1:
            x = x.clone()
            mean = x.mean(0)
            for _ in range(aug.time_masks):
                width = int(torch.randint(aug.time_mask_frames + 1, ()))
                width = min(width, x.shape[0] - 1)
                if width <= 0:
                    continue
                start = int(torch.randint(x.shape[0] - width + 1, ()))
                x[start : start + width] = mean
        out.append(list(torch.split(x, lengths[i])))
    return out
