"""Losses of the CT–text CLIP teacher (and reused by the speech student).

* :func:`info_nce` — symmetric InfoNCE with a (learnable) logit scale; an optional boolean
  ``ignore`` mask removes off-diagonal pairs from the softmax denominators (false-negative guard).
* :func:`siglip_loss` — the pairwise sigmoid loss of SigLIP (scale and bias learnable); ignored
  pairs get zero weight.
* :func:`false_negative_mask` — BIUD/fVLM-style guard: two studies whose label vectors are
  identical (e.g. two normal studies) or have label Jaccard ≥ ``threshold`` are not negatives.
* :func:`prompt_disease_loss` — RadFinder-style disease supervision in the shared space: each CT
  embedding classifies each pathology by a softmax over its similarity to the "present" and
  "not present" prompt embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def label_jaccard(labels_a: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
    """Pairwise Jaccard of binary label rows ``(A, L) × (B, L) → (A, B)``; two empty rows → 1."""
    a = labels_a.float()
    b = labels_b.float()
    inter = a @ b.T
    union = a.sum(1, keepdim=True) + b.sum(1)[None, :] - inter
    both_empty = union == 0
    jac = inter / union.clamp(min=1.0)
    return torch.where(both_empty, torch.ones_like(jac), jac)


def false_negative_mask(
    labels_a: torch.Tensor, labels_b: torch.Tensor | None = None, threshold: float = 1.0
) -> torch.Tensor:
    """``(A, B)`` bool: pairs too similar by labels to serve as negatives (Jaccard ≥ threshold).

    With ``labels_b`` omitted the mask is square and its diagonal is False (the positives).
    """
    square = labels_b is None
    jac = label_jaccard(labels_a, labels_a if square else labels_b)
    mask = jac >= threshold - 1e-6
    if square:
        mask.fill_diagonal_(False)
    return mask


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor | float,
    ignore: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE between matched rows of L2-normalised ``a`` and ``b`` ``(N, D)``.

    ``logit_scale`` is the multiplier (already exponentiated). ``ignore[i, j]`` (i ≠ j) drops the
    pair from both softmax denominators.
    """
    logits = a @ b.T * logit_scale
    if ignore is not None:
        logits = logits.masked_fill(ignore, float("-inf"))
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def siglip_loss(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor | float,
    logit_bias: torch.Tensor | float,
    ignore: torch.Tensor | None = None,
) -> torch.Tensor:
    """SigLIP: every pair is a binary problem (diagonal positive); averaged over kept pairs."""
    logits = a @ b.T * logit_scale + logit_bias
    n = a.shape[0]
    signs = 2.0 * torch.eye(n, device=a.device, dtype=logits.dtype) - 1.0
    per_pair = -F.logsigmoid(signs * logits)
    if ignore is not None:
        keep = (~ignore).to(per_pair.dtype)
        return (per_pair * keep).sum() / n
    return per_pair.sum() / n


def prompt_logits(
    ct: torch.Tensor, prompts: torch.Tensor, logit_scale: torch.Tensor | float
) -> torch.Tensor:
    """``(B, L)`` logit of "present" vs "not present" for each pathology.

    ``ct`` ``(B, D)`` L2-normalised, ``prompts`` ``(L, 2, D)`` L2-normalised (positive, negative).
    The 2-way softmax of ``scale * (cos_pos, cos_neg)`` equals the sigmoid of the returned value.
    """
    sims = torch.einsum("bd,lkd->blk", ct, prompts) * logit_scale
    return sims[..., 0] - sims[..., 1]


def prompt_disease_loss(
    ct: torch.Tensor,
    prompts: torch.Tensor,
    labels: torch.Tensor,
    logit_scale: torch.Tensor | float,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Binary cross-entropy of the prompt-pair softmax against the multi-label targets."""
    logits = prompt_logits(ct, prompts, logit_scale)
    return F.binary_cross_entropy_with_logits(
        logits, labels.to(logits.dtype), pos_weight=pos_weight
    )


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 − cosine between matched student and (frozen) teacher embeddings, averaged."""
    return (1.0 - F.cosine_similarity(student, teacher.detach(), dim=-1)).mean()


def query_loss(
    queries: torch.Tensor,
    prototypes: torch.Tensor,
    targets: torch.Tensor,
    logit_scale: torch.Tensor | float,
) -> torch.Tensor:
    """Cross-entropy of ``(Q, D)`` query embeddings over ``(L, D)`` pathology prototypes."""
    return F.cross_entropy(queries @ prototypes.T * logit_scale, targets)


def row_mean(per_row: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of per-row loss values, or their ``weights``-weighted mean (0 when no row has
    weight, so a term can exist on a DDP rank whose slice has none of its rows)."""
    if weights is None:
        return per_row.mean()
    return (per_row * weights).sum() / weights.sum().clamp(min=1.0)


def ct_metric(
    ct_bank: torch.Tensor | Sequence[torch.Tensor],
    prompts: torch.Tensor,
    cap: float | Sequence[float] = 1.0,
) -> torch.Tensor:
    """``(D, D)`` metric of zero-shot errors: the covariance of a bank of normalised CT
    embeddings ``(N, D)``, divided by the mean variance across that bank of the teacher's
    present − absent prompt scores (``prompts`` ``(L, 2, D)``). ``eᵀ M e`` is then the spread,
    over CTs, of what an embedding error ``e`` adds to a zero-shot score, in units of the
    teacher's own spread — error along directions no CT varies in costs nothing.

    Several banks (domains, e.g. phantom and real anatomy) are each centred on their own mean
    and their covariances averaged with equal weight: a per-class AUROC is blind to a shift
    shared by a whole domain but not to the variation inside one.

    ``cap`` in (0, 1] caps the covariance's eigenvalues at that share of the largest before
    normalising (1: as measured); with several caps the metric is the sum of one such metric
    per cap."""
    caps = [float(cap)] if isinstance(cap, int | float) else [float(c) for c in cap]
    if not caps or not all(0 < c <= 1 for c in caps):
        raise ValueError(f"ct_metric caps must be in (0, 1], got {caps}")
    banks = [ct_bank] if isinstance(ct_bank, torch.Tensor) else list(ct_bank)
    if not banks:
        raise ValueError("ct_metric needs at least one CT bank")
    covs = []
    for bank in banks:
        c = F.normalize(bank.float(), dim=-1)
        c = c - c.mean(dim=0, keepdim=True)
        covs.append(c.T @ c / max(len(c), 1))
    cov = torch.stack(covs).mean(dim=0)
    ev, vec = torch.linalg.eigh(cov) if min(caps) < 1 else (None, None)
    d = prompts[:, 0].float() - prompts[:, 1].float()
    total = torch.zeros_like(cov)
    for c in caps:
        m = cov if c == 1 else (vec * ev.clamp(min=0, max=c * float(ev.max()))) @ vec.T
        signal = torch.einsum("ld,de,le->l", d, m, d).mean()
        total = total + m / signal.clamp(min=1e-12)
    return total


def projected_kd(
    student: torch.Tensor,
    teacher: torch.Tensor,
    metric: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Zero-shot distillation: ``eᵀ M e`` of ``e = student − teacher`` (both normalised) under
    :func:`ct_metric`, averaged over rows (weighted; 0 when no row has weight)."""
    e = F.normalize(student.float(), dim=-1) - F.normalize(teacher.float(), dim=-1).detach()
    return row_mean(torch.einsum("bd,de,be->b", e, metric, e), weights)
