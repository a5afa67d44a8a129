"""The grounded CT encoder's objective, one function returning its parts (open_clip style).

* ``dense``: per-cell binary cross-entropy against the finding masks (soft fractions), the
  finding's cells and the rest weighted alike, plus a soft Dice term on the cells of present
  findings — where a finding is;
* ``label``: binary cross-entropy of the pooled logits against the case labels — whether;
* ``zeroshot``: the prompt-pair logits of the embedding against the labels (RadFinder's prompt
  supervision) plus their agreement with the pooled head's probabilities (cross-entropy with
  them as soft targets), so the zero-shot read-out of the shared space says what the grounded
  head says;
* ``contrastive``: InfoNCE of the embedding against the frozen report embeddings, with the
  false-negative guard (cases with the same labels are not negatives).

Unknown labels (a real background that may hide a finding) take no part in any term.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from radvoice.nn.grounded import GroundedOutput
from radvoice.nn.losses import false_negative_mask, info_nce, prompt_logits


@dataclass(frozen=True)
class GroundedLossWeights:
    dense: float = 1.0
    dice: float = 1.0
    label: float = 1.0
    zeroshot: float = 1.0
    agreement: float = 0.5
    contrastive: float = 0.5


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def create_loss(weights: GroundedLossWeights | None = None):
    """``loss(out, masks, labels, known, text_emb, prompts, scale) -> dict`` of the parts and
    the weighted ``loss``."""
    w = weights or GroundedLossWeights()

    def loss(
        out: GroundedOutput,
        masks: torch.Tensor,  # (B, L, d, h, w) fractions
        labels: torch.Tensor,  # (B, L) 0/1
        known: torch.Tensor,  # (B, L) bool
        text_emb: torch.Tensor,  # (B, D) normalised report embeddings
        prompts: torch.Tensor,  # (L, 2, D)
        scale: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        y = labels.float()
        has_mask = masks.flatten(2).amax(dim=2) > 0
        dense_ok = known & ((y == 0) | has_mask)  # a positive without a mask: no dense target
        per_cell = F.binary_cross_entropy_with_logits(out.dense, masks, reduction="none").flatten(2)
        m = masks.flatten(2)
        # balanced: the finding's cells weigh as much as the rest of the volume (a nodule is a
        # few cells of 32 768; a plain mean would teach "nothing anywhere")
        pos = (per_cell * m).sum(2) / m.sum(2).clamp(min=1e-6)
        neg = (per_cell * (1 - m)).sum(2) / (1 - m).sum(2).clamp(min=1e-6)
        dense = _masked_mean(torch.where(has_mask, 0.5 * (pos + neg), neg), dense_ok)
        p = torch.sigmoid(out.dense).flatten(2)
        dice_each = 1 - (2 * (p * m).sum(2) + 1) / (p.sum(2) + m.sum(2) + 1)
        dice = _masked_mean(dice_each, known & has_mask)
        label_each = F.binary_cross_entropy_with_logits(out.logits, y, reduction="none")
        label = _masked_mean(label_each, known)
        emb = F.normalize(out.embedding.float(), dim=-1)
        zl = prompt_logits(emb, prompts, scale)
        zs = _masked_mean(F.binary_cross_entropy_with_logits(zl, y, reduction="none"), known)
        head_p = torch.sigmoid(out.logits.detach())
        agree_each = F.binary_cross_entropy_with_logits(zl, head_p, reduction="none")
        agree = _masked_mean(agree_each, known)
        ignore = false_negative_mask(labels * known, threshold=1.0)
        contrastive = info_nce(emb, text_emb, scale, ignore)
        parts = {
            "dense": dense,
            "dice": dice,
            "label": label,
            "zeroshot": zs,
            "agreement": agree,
            "contrastive": contrastive,
        }
        parts["loss"] = sum(getattr(w, k) * v for k, v in parts.items())
        return parts

    return loss
