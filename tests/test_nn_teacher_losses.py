"""Losses, false-negative guard and zero-shot arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGIES
from radvoice.nn.losses import (
    ct_metric,
    false_negative_mask,
    info_nce,
    label_jaccard,
    projected_kd,
    prompt_disease_loss,
    prompt_logits,
    siglip_loss,
)
from radvoice.nn.zeroshot import (
    PROMPT_TEMPLATES,
    average_prompts,
    match_query,
    prompt_texts,
    roc_optimal_threshold,
    zero_shot_probabilities,
)


def _unit(n: int, d: int = 16, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_info_nce_matches_reference_and_prefers_aligned_pairs() -> None:
    a = _unit(6)
    b = _unit(6, seed=1)
    logits = a @ b.T * 10.0
    ref = 0.5 * (
        F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6))
    )
    assert torch.isclose(info_nce(a, b, 10.0), ref)
    assert info_nce(a, a, 10.0) < info_nce(a, b, 10.0)


def test_label_jaccard_and_false_negative_mask() -> None:
    labels = torch.zeros(4, NUM_PATHOLOGIES)
    labels[2, [0, 1]] = 1
    labels[3, [0, 1, 2]] = 1
    jac = label_jaccard(labels, labels)
    assert jac[0, 1] == 1.0  # two normal studies are identical
    assert math.isclose(float(jac[2, 3]), 2 / 3, rel_tol=1e-6)
    assert jac[0, 2] == 0.0
    exact = false_negative_mask(labels, threshold=1.0)
    assert exact[0, 1] and exact[1, 0] and not exact[2, 3]
    assert not exact.diagonal().any()
    loose = false_negative_mask(labels, threshold=0.6)
    assert loose[2, 3] and loose[3, 2] and not loose[0, 2]


def test_guard_removes_the_ignored_pair_from_the_denominator() -> None:
    """With the guard, how similar two normal studies are no longer changes the loss."""
    a = _unit(4)
    b = _unit(4, seed=2)
    labels = torch.zeros(4, NUM_PATHOLOGIES)
    labels[2:, 5] = 1
    labels[3, 6] = 1
    ignore = false_negative_mask(labels)
    b2 = b.clone()
    b2[1] = a[0]  # study 1's report now looks exactly like study 0's CT
    assert not torch.isclose(info_nce(a, b, 10.0), info_nce(a, b2, 10.0))

    # only row 1 / column 1 terms involving pair (0, 1) change; compare the CT->text row 0 term
    def row0(bb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        logits = a @ bb.T * 10.0
        if mask is not None:
            logits = logits.masked_fill(mask, float("-inf"))
        return F.cross_entropy(logits[:1], torch.tensor([0]))

    assert torch.isclose(row0(b, ignore), row0(b2, ignore))
    assert not torch.isclose(row0(b, None), row0(b2, None))


def test_siglip_loss_and_mask() -> None:
    a = _unit(5)
    good = siglip_loss(a, a, 10.0, -5.0)
    bad = siglip_loss(a, _unit(5, seed=3), 10.0, -5.0)
    assert good < bad
    ignore = torch.ones(5, 5, dtype=torch.bool)
    ignore.fill_diagonal_(False)
    only_pos = siglip_loss(a, a, 10.0, -5.0, ignore)
    expected = -F.logsigmoid(torch.full((5,), 10.0 - 5.0)).sum() / 5
    assert torch.isclose(only_pos, expected)


def test_prompt_disease_loss_follows_the_prompt_pair() -> None:
    d = 16
    gen = torch.Generator().manual_seed(3)
    prompts = F.normalize(torch.randn(NUM_PATHOLOGIES, 2, d, generator=gen), dim=-1)
    labels = torch.zeros(2, NUM_PATHOLOGIES)
    labels[0, 3] = 1
    ct_pos = prompts[3, 0].clone()[None]
    ct_neg = prompts[3, 1].clone()[None]
    logit_pos = prompt_logits(ct_pos, prompts, 10.0)[0, 3]
    logit_neg = prompt_logits(ct_neg, prompts, 10.0)[0, 3]
    assert logit_pos > 0 > logit_neg
    # class 3 present: lower loss for the CT on its "present" prompt (the other classes'
    # random prompts would add noise of either sign, so score class 3 alone)
    y = torch.ones(1, 1)
    pair = prompts[3:4]
    assert prompt_disease_loss(ct_pos, pair, y, 10.0) < prompt_disease_loss(ct_neg, pair, y, 10.0)
    # the pair softmax equals the sigmoid of the logit difference
    probs = zero_shot_probabilities(ct_pos, prompts, 10.0)
    assert torch.allclose(probs, torch.sigmoid(prompt_logits(ct_pos, prompts, 10.0)), atol=1e-6)


def test_prompt_texts_and_template_average() -> None:
    texts = prompt_texts()
    assert len(texts) == NUM_PATHOLOGIES * len(PROMPT_TEMPLATES) * 2
    assert texts[0] == f"{PATHOLOGIES[0]} is present."
    assert texts[1] == f"{PATHOLOGIES[0]} is not present."
    flat = _unit(len(texts))
    avg = average_prompts(flat, NUM_PATHOLOGIES)
    assert avg.shape == (NUM_PATHOLOGIES, 2, 16)
    manual = F.normalize(flat[0::2][: len(PROMPT_TEMPLATES)].mean(0), dim=0)
    assert torch.allclose(avg[0, 0], manual, atol=1e-6)


def test_roc_threshold_closest_to_corner() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.6, 0.5, 0.8, 0.9])
    # thresholds 0.8 -> (0, 2/3); 0.5 -> (1/3, 1): distances 0.333 each; 0.6 -> (1/3, 2/3)
    thr = roc_optimal_threshold(y, s)
    assert thr in (0.5, 0.8)
    perfect = roc_optimal_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]))
    assert perfect == 0.7
    assert roc_optimal_threshold(np.zeros(4), np.arange(4) / 4) == 0.5


def test_match_query_picks_nearest_prototype() -> None:
    protos = _unit(NUM_PATHOLOGIES)
    label, score = match_query(protos[7].numpy() * 3.0, protos)
    assert label == PATHOLOGIES[7]
    assert math.isclose(score, 1.0, rel_tol=1e-5)


def test_rank_query_keeps_near_ties_best_first() -> None:
    from radvoice.nn.query_rank import rank_query

    scores = {"A": 0.40, "B": 0.62, "C": 0.60, "D": 0.58, "E": 0.10}
    best, near = rank_query(scores, margin=0.03)
    assert best == ("B", 0.62) and [k for k, _ in near] == ["C"]
    assert [k for k, _ in rank_query(scores, margin=0.05)[1]] == ["C", "D"]
    assert rank_query({"A": 0.3}) == (("A", 0.3), [])
    with pytest.raises(ValueError):
        rank_query({})


def test_projected_kd_counts_only_error_that_moves_zero_shot_scores() -> None:
    d = 16
    gen = torch.Generator().manual_seed(0)
    # CT embeddings that vary only in the first 4 dimensions (plus a constant offset)
    ct = torch.zeros(64, d)
    ct[:, :4] = torch.randn(64, 4, generator=gen)
    ct[:, 8] = 3.0
    prompts = F.normalize(torch.randn(5, 2, d, generator=gen), dim=-1)
    metric = ct_metric(ct, prompts)
    diff = prompts[:, 0] - prompts[:, 1]
    # in units of the teacher's own present-absent spread
    assert torch.einsum("ld,de,le->l", diff, metric, diff).mean() == pytest.approx(1.0, rel=1e-4)
    teacher = F.normalize(torch.randn(6, d, generator=gen), dim=-1)
    assert projected_kd(teacher, teacher, metric) == pytest.approx(0.0, abs=1e-6)
    off_span = teacher.clone()
    off_span[:, 12] += 0.3  # no CT varies along dim 12: costs (almost) nothing after normalising
    along = teacher.clone()
    along[:, 1] += 0.3
    assert projected_kd(along, teacher, metric) > 10 * projected_kd(off_span, teacher, metric)
    weights = torch.tensor([1.0, 0, 0, 0, 0, 0])
    one = projected_kd(along[:1], teacher[:1], metric)
    assert projected_kd(along, teacher, metric, weights) == pytest.approx(float(one), rel=1e-5)


def test_ct_metric_centres_each_domain_and_weights_domains_equally() -> None:
    d = 16
    gen = torch.Generator().manual_seed(1)
    prompts = F.normalize(torch.randn(5, 2, d, generator=gen), dim=-1)
    # domain A varies in dims 0-3; domain B (few cases, far away) varies in dims 4-7
    a = torch.zeros(200, d)
    a[:, :4] = torch.randn(200, 4, generator=gen)
    a[:, 10] = 3.0
    b = torch.zeros(20, d)
    b[:, 4:8] = torch.randn(20, 4, generator=gen)
    b[:, 11] = 3.0
    single = ct_metric(a, prompts)
    assert torch.allclose(ct_metric([a], prompts), single)
    both = ct_metric([a, b], prompts)
    err_b = torch.zeros(1, d)
    err_b[0, 5] = 0.3
    err_offset = torch.zeros(1, d)
    err_offset[0, 11] = 0.3  # the shift between the domains: no per-class ranking sees it
    base = torch.zeros(1, d)
    base[0, 13] = 1.0  # an embedding no CT varies along, so only the error moves scores
    # error along domain B's variation is invisible to A's metric, costly under the mix
    assert projected_kd(base + err_b, base, single) < 0.1 * projected_kd(base + err_b, base, both)
    # centring per domain: the offset between domains is not variation (pooling would count it)
    pooled = ct_metric(torch.cat([a, b]), prompts)
    assert projected_kd(base + err_offset, base, both) < 0.1 * projected_kd(
        base + err_offset, base, pooled
    )
    with pytest.raises(ValueError):
        ct_metric([], prompts)


def test_ct_metric_cap_flattens_the_main_directions_only() -> None:
    d = 16
    gen = torch.Generator().manual_seed(2)
    prompts = F.normalize(torch.randn(5, 2, d, generator=gen), dim=-1)
    # CTs vary a lot along dim 0, a little along dim 1, and barely along dim 2
    ct = torch.zeros(400, d)
    ct[:, 0] = 1.0 * torch.randn(400, generator=gen)
    ct[:, 1] = 0.1 * torch.randn(400, generator=gen)
    ct[:, 2] = 0.001 * torch.randn(400, generator=gen)
    ct[:, 9] = 5.0
    assert torch.allclose(ct_metric(ct, prompts, cap=1.0), ct_metric(ct, prompts))
    plain, capped = ct_metric(ct, prompts), ct_metric(ct, prompts, cap=0.005)
    base = torch.zeros(1, d)
    base[0, 13] = 1.0

    def cost(metric: torch.Tensor, dim: int) -> float:
        err = base.clone()
        err[0, dim] = 0.1
        return float(projected_kd(err, base, metric))

    # as measured, dim 1 costs ~1 % of dim 0; capped at 0.5 % of the top variance, dims 0 and 1
    # weigh alike, while the barely varying dim 2 stays almost free
    assert cost(plain, 1) < 0.03 * cost(plain, 0)
    assert cost(capped, 1) == pytest.approx(cost(capped, 0), rel=0.05)
    assert cost(capped, 2) < 1e-3 * cost(capped, 0)
    with pytest.raises(ValueError):
        ct_metric(ct, prompts, cap=0.0)
