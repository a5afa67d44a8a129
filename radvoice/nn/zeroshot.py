"""Zero-shot classification the CT-CLIP way.

For each pathology ``p`` a "present" and a "not present" prompt are embedded with several
templates; each side is averaged over templates (then re-normalised). The probability of ``p``
is the 2-way softmax of ``scale · (cos(ct, present), cos(ct, not present))``. Per-class decision
thresholds are the ROC point closest to (0, 1) on a validation set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from radvoice.labels import PATHOLOGIES

PROMPT_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("{P} is present.", "{P} is not present."),
    ("There is {p}.", "There is no {p}."),
    ("Findings consistent with {p}.", "No evidence of {p}."),
    ("The chest CT shows {p}.", "The chest CT shows no {p}."),
    ("{P} is seen.", "{P} is not seen."),
)
"""(present, absent) templates; ``{P}`` is the label as written, ``{p}`` in lower case."""


def prompt_texts(
    pathologies: Sequence[str] = PATHOLOGIES,
    templates: Sequence[tuple[str, str]] = PROMPT_TEMPLATES,
) -> list[str]:
    """Flat list ordered ``[pathology][template][present, absent]``."""
    out = []
    for name in pathologies:
        lower = name[0].lower() + name[1:]
        for pos, neg in templates:
            out.append(pos.format(P=name, p=lower))
            out.append(neg.format(P=name, p=lower))
    return out


def average_prompts(flat_embeddings: torch.Tensor, n_pathologies: int) -> torch.Tensor:
    """``(L·T·2, D)`` normalised prompt embeddings → ``(L, 2, D)`` template-averaged, normalised."""
    d = flat_embeddings.shape[-1]
    emb = flat_embeddings.reshape(n_pathologies, -1, 2, d).mean(dim=1)
    return F.normalize(emb, dim=-1)


def build_prompt_embeddings(
    embed: Callable[[list[str]], torch.Tensor],
    pathologies: Sequence[str] = PATHOLOGIES,
    templates: Sequence[tuple[str, str]] = PROMPT_TEMPLATES,
) -> torch.Tensor:
    """Run ``embed`` (texts → normalised embeddings) on all prompts → ``(L, 2, D)``."""
    flat = embed(prompt_texts(pathologies, templates))
    return average_prompts(flat, len(pathologies))


def zero_shot_probabilities(
    ct_embeddings: torch.Tensor, prompts: torch.Tensor, logit_scale: float | torch.Tensor
) -> torch.Tensor:
    """``(B, D)`` normalised CT embeddings → ``(B, L)`` probabilities in [0, 1]."""
    sims = torch.einsum("bd,lkd->blk", ct_embeddings.float(), prompts.float()) * logit_scale
    return torch.softmax(sims, dim=-1)[..., 0]


def roc_optimal_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Threshold of the ROC point closest to (FPR, TPR) = (0, 1); 0.5 if a class is absent."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    if y.min(initial=0) == y.max(initial=0) or len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, thr = roc_curve(y, s)
    dist = np.hypot(fpr, 1.0 - tpr)
    best = int(np.argmin(dist))
    value = float(thr[best])
    if not np.isfinite(value):  # sklearn's first threshold is +inf
        value = float(np.max(s)) + 1e-6
    return float(np.clip(value, 0.0, 1.0))


def roc_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-class ROC-optimal thresholds for ``(N, L)`` labels and probabilities."""
    return np.array(
        [roc_optimal_threshold(labels[:, c], probs[:, c]) for c in range(labels.shape[1])],
        dtype=np.float32,
    )


QUERY_TEMPLATES: tuple[str, ...] = (
    "{P}.",
    "Is there {p}?",
    "Any {p}?",
    "Does this scan show {p}?",
    "Check for {p}.",
)
"""Spoken-query phrasings whose averaged embedding is each pathology's query prototype."""


def query_texts(
    pathologies: Sequence[str] = PATHOLOGIES, templates: Sequence[str] = QUERY_TEMPLATES
) -> list[str]:
    """Flat list ordered ``[pathology][template]``."""
    out = []
    for name in pathologies:
        lower = name[0].lower() + name[1:]
        out.extend(t.format(P=name, p=lower) for t in templates)
    return out


def build_query_prototypes(
    embed: Callable[[list[str]], torch.Tensor],
    pathologies: Sequence[str] = PATHOLOGIES,
    templates: Sequence[str] = QUERY_TEMPLATES,
) -> torch.Tensor:
    """``(L, D)`` normalised mean embedding of each pathology's query phrasings."""
    return average_queries(embed(query_texts(pathologies, templates)), len(pathologies))


def average_queries(flat_embeddings: torch.Tensor, n_pathologies: int) -> torch.Tensor:
    """``(L·T, D)`` query-phrasing embeddings → ``(L, D)`` template-averaged, normalised."""
    d = flat_embeddings.shape[-1]
    return F.normalize(flat_embeddings.reshape(n_pathologies, -1, d).mean(1), dim=-1)


def match_query(
    query_embedding: torch.Tensor | np.ndarray,
    prototypes: torch.Tensor,
    pathologies: Sequence[str] = PATHOLOGIES,
) -> tuple[str, float]:
    """The pathology whose query prototype is closest (cosine) to the query, and that cosine."""
    scores = query_scores(query_embedding, prototypes, pathologies)
    best = max(scores, key=scores.__getitem__)
    return best, scores[best]


def query_scores(
    query_embedding: torch.Tensor | np.ndarray,
    prototypes: torch.Tensor,
    pathologies: Sequence[str] = PATHOLOGIES,
) -> dict[str, float]:
    """Cosine of the query to every pathology's query prototype."""
    q = F.normalize(
        torch.as_tensor(np.asarray(query_embedding), dtype=torch.float32).reshape(-1), dim=0
    )
    sims = (prototypes.float() @ q).tolist()
    return dict(zip(pathologies, sims, strict=True))
