"""Metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, roc_auc_score

from radvoice.metrics import (
    MetricError,
    auroc,
    binary_metrics,
    classification_report,
    label_jaccard_at_k,
    macro_auroc,
    paired_bootstrap_delta,
    recall_at_k,
)


def test_auroc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    assert math.isclose(auroc(y, s), roc_auc_score(y, s), rel_tol=1e-12)
    assert math.isnan(auroc(np.ones(5), np.arange(5)))


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    s = rng.random(100)
    m = binary_metrics(y, s, 0.4)
    pred = (s >= 0.4).astype(int)
    assert math.isclose(m["weighted_f1"], f1_score(y, pred, average="weighted"), rel_tol=1e-12)
    assert math.isclose(m["precision"], precision_score(y, pred), rel_tol=1e-12)
    assert math.isclose(m["accuracy"], float(np.mean(pred == y)), rel_tol=1e-12)


def test_classification_report_macro_skips_undefined_auroc() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.2], [0.1, 0.4]])
    rep = classification_report(y, s, [0.5, 0.5], ["a", "b"])
    assert rep["a"]["auroc"] == 1.0
    assert math.isnan(rep["b"]["auroc"])
    assert rep["macro"]["auroc"] == 1.0
    assert rep["macro"]["accuracy"] == 1.0
    with pytest.raises(MetricError):
        classification_report(y, s[:, :1])


def test_recall_at_k() -> None:
    sim = np.array([[0.9, 0.1, 0.0], [0.8, 0.5, 0.0], [0.1, 0.7, 0.3]])
    # query 0 ranks its item 1st, query 1 ranks it 2nd, query 2 ranks it 2nd
    r = recall_at_k(sim, ks=(1, 2, 3))
    assert r == {1: pytest.approx(1 / 3), 2: 1.0, 3: 1.0}


def test_label_jaccard_at_k() -> None:
    emb = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0]])
    labels = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]])
    j = label_jaccard_at_k(emb, labels, ks=(1, 2))
    # nearest of 0 is 1 (J=1/2), of 1 is 0 (1/2), of 2 is 1 (0)
    assert j[1] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # k=2: query0 -> {1: .5, 2: 0}, query1 -> {0: .5, 2: 0}, query2 -> {1: 0, 0: 0}
    assert j[2] == pytest.approx((0.25 + 0.25 + 0.0) / 3)
    assert label_jaccard_at_k(emb, np.zeros((3, 3)), ks=(1,))[1] == 1.0


def test_paired_bootstrap_tells_a_real_gain_from_none() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < 0.3).astype(int)
    noise = rng.standard_normal((200, 3))
    weak, strong = y * 0.3 + noise, y * 3.0 + noise
    d, lo, hi = paired_bootstrap_delta(y, weak, strong, n_boot=300)
    assert d == pytest.approx(macro_auroc(y, strong) - macro_auroc(y, weak))
    assert 0 < lo <= d <= hi
    same = paired_bootstrap_delta(y, weak, weak.copy(), n_boot=50)
    assert same == (0.0, 0.0, 0.0)
    y[:, 2] = 0  # a class without positives is left out of the macro mean
    assert macro_auroc(y, strong) == pytest.approx(
        np.mean([roc_auc_score(y[:, j], strong[:, j]) for j in range(2)])
    )


def test_macro_auroc_known_mask_and_shared_bootstrap_resamples() -> None:
    from radvoice.metrics import bootstrap_macro_aurocs

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (60, 3))
    good = y + rng.normal(0, 0.6, y.shape)
    known = np.ones_like(y, dtype=bool)
    known[:30, 2] = False
    by_hand = np.mean(
        [
            roc_auc_score(y[:, 0], good[:, 0]),
            roc_auc_score(y[:, 1], good[:, 1]),
            roc_auc_score(y[30:, 2], good[30:, 2]),
        ]
    )
    assert macro_auroc(y, good, known) == pytest.approx(by_hand)
    draws = bootstrap_macro_aurocs(y, [good, good, -good], known, n_boot=50)
    assert draws.shape == (50, 3)
    np.testing.assert_allclose(draws[:, 0], draws[:, 1])  # same resample for every system
    assert (draws[:, 0] > 0.5).all() and (draws[:, 2] < 0.5).all()


def test_old_module_name_is_the_moved_module():
    import radvoice.eval.metrics
    import radvoice.metrics

    assert radvoice.eval.metrics is radvoice.metrics
