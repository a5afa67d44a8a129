"""Metrics of the CT-CLIP protocol.

* classification, per class and macro: AUROC, weighted F1, accuracy, precision (at given
  per-class thresholds);
* report → volume retrieval Recall@K;
* volume → volume mean label Jaccard@K (the labels of the K nearest other volumes vs the query's).

"Weighted F1" follows CT-CLIP: per class, the F1 of each of the two classes (present / absent)
weighted by its support; macro = mean over classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from radvoice.errors import RadVoiceError


class MetricError(RadVoiceError):
    """Inputs to a metric that do not fit together."""


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.ndim == 1:
        y, s = y[:, None], s[:, None]
    if y.shape != s.shape:
        raise MetricError(f"labels {y.shape} and scores {s.shape} differ in shape")
    return y.astype(int), s


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count half); NaN if one class is absent."""
    y = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _f1(tp: float, fp: float, fn: float) -> float:
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


def binary_metrics(y_true: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """AUROC, weighted F1, accuracy and precision of one class at ``threshold``."""
    y = np.asarray(y_true).astype(bool).ravel()
    pred = np.asarray(scores, dtype=float).ravel() >= threshold
    tp = float(np.sum(pred & y))
    fp = float(np.sum(pred & ~y))
    fn = float(np.sum(~pred & y))
    tn = float(np.sum(~pred & ~y))
    n = max(1.0, tp + fp + fn + tn)
    f1_pos = _f1(tp, fp, fn)
    f1_neg = _f1(tn, fn, fp)
    weighted_f1 = (f1_pos * (tp + fn) + f1_neg * (tn + fp)) / n
    return {
        "auroc": auroc(y, scores),
        "weighted_f1": weighted_f1,
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "support": tp + fn,
    }


def classification_report(
    labels: np.ndarray,
    scores: np.ndarray,
    thresholds: Sequence[float] | np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-class metrics keyed by class name plus ``"macro"`` (NaN AUROCs skipped in the mean)."""
    y, s = _check(labels, scores)
    n_classes = y.shape[1]
    thr = np.full(n_classes, 0.5) if thresholds is None else np.asarray(thresholds, dtype=float)
    if thr.shape != (n_classes,):
        raise MetricError(f"{thr.shape[0]} thresholds for {n_classes} classes")
    names = list(names) if names is not None else [str(i) for i in range(n_classes)]
    if len(names) != n_classes:
        raise MetricError(f"{len(names)} names for {n_classes} classes")
    out: dict[str, dict[str, float]] = {}
    for c, name in enumerate(names):
        out[name] = binary_metrics(y[:, c], s[:, c], float(thr[c]))
    out["macro"] = macro_mean(out, names)
    return out


def macro_mean(per_class: dict[str, dict[str, float]], names: Sequence[str]) -> dict[str, float]:
    """Mean over ``names`` of each classification metric, NaNs (undefined AUROCs) skipped."""
    macro = {}
    for k in ("auroc", "weighted_f1", "accuracy", "precision"):
        vals = np.array([per_class[n][k] for n in names], dtype=float)
        vals = vals[np.isfinite(vals)]
        macro[k] = float(vals.mean()) if vals.size else float("nan")
    return macro


def _rank_matrix(similarity: np.ndarray) -> np.ndarray:
    return np.argsort(-np.asarray(similarity, dtype=float), axis=1, kind="stable")


def recall_at_k(similarity: np.ndarray, ks: Sequence[int] = (1, 5, 10, 50)) -> dict[int, float]:
    """Query i's correct item is item i; fraction of queries with it in the top K."""
    sim = np.asarray(similarity, dtype=float)
    if sim.ndim != 2 or sim.shape[0] > sim.shape[1]:
        raise MetricError(
            f"similarity must be (queries, items) with queries ≤ items, got {sim.shape}"
        )
    diag = sim[np.arange(sim.shape[0]), np.arange(sim.shape[0])]
    # rank of the true item = number of items scoring strictly higher (ties favour the truth)
    rank = (sim > diag[:, None]).sum(axis=1)
    return {int(k): float(np.mean(rank < k)) for k in ks}


def label_jaccard_at_k(
    embeddings: np.ndarray, labels: np.ndarray, ks: Sequence[int] = (1, 5, 10)
) -> dict[int, float]:
    """Volume→volume retrieval: mean Jaccard between a query's labels and each of its K nearest
    other volumes' labels (cosine on ``embeddings``); two empty label sets count as 1."""
    e = np.asarray(embeddings, dtype=float)
    y = np.asarray(labels).astype(bool)
    if e.shape[0] != y.shape[0]:
        raise MetricError("embeddings and labels have different numbers of rows")
    n = e.shape[0]
    if n < 2:
        raise MetricError("volume→volume retrieval needs at least 2 volumes")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    order = _rank_matrix(sim)
    inter = (y[:, None, :] & y[None, :, :]).sum(-1)
    union = (y[:, None, :] | y[None, :, :]).sum(-1)
    jac = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    out = {}
    for k in ks:
        kk = min(int(k), n - 1)
        top = order[:, :kk]
        out[int(k)] = float(np.take_along_axis(jac, top, axis=1).mean())
    return out


def macro_auroc(labels: np.ndarray, scores: np.ndarray, known: np.ndarray | None = None) -> float:
    """Mean AUROC over the classes (columns) that have both positives and negatives; with a
    boolean ``known`` mask of the same shape, each class uses only its known rows."""
    y, s = _check(labels, scores)
    if known is None:
        values = [auroc(y[:, j], s[:, j]) for j in range(y.shape[1])]
    else:
        k = np.asarray(known, dtype=bool).reshape(y.shape)
        values = [auroc(y[k[:, j], j], s[k[:, j], j]) for j in range(y.shape[1])]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def bootstrap_macro_aurocs(
    labels: np.ndarray,
    scores: Sequence[np.ndarray],
    known: np.ndarray | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> np.ndarray:
    """``(n_boot, len(scores))`` macro AUROCs of several systems on the same bootstrap
    resamples of the cases (rows), for intervals of any statistic of them."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, len(scores)))
    for b in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        k = None if known is None else np.asarray(known)[idx]
        out[b] = [macro_auroc(y[idx], np.asarray(s)[idx], k) for s in scores]
    return out


def paired_bootstrap_delta(
    labels: np.ndarray,
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Macro AUROC of ``b`` minus that of ``a`` on the same cases, with a percentile
    bootstrap interval over cases (the same resample for both): ``(delta, low, high)``."""
    y, a = _check(labels, scores_a)
    _, b = _check(labels, scores_b)
    if a.shape != b.shape:
        raise MetricError(f"scores {a.shape} and {b.shape} differ in shape")
    delta = macro_auroc(y, b) - macro_auroc(y, a)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        d = macro_auroc(y[idx], b[idx]) - macro_auroc(y[idx], a[idx])
        if not np.isnan(d):
            draws.append(d)
    if not draws:
        return delta, float("nan"), float("nan")
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(delta), float(low), float(high)
