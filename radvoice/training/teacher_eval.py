"""Evaluation of the teacher on a set of cases: zero-shot classification and retrieval."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from radvoice.labels import PATHOLOGIES
from radvoice.metrics import classification_report, label_jaccard_at_k, recall_at_k
from radvoice.nn.clip import CTClip
from radvoice.nn.zeroshot import roc_thresholds, zero_shot_probabilities
from radvoice.training.cases import GridCache, TrainingCase


@dataclass
class TeacherEval:
    probabilities: np.ndarray  # (N, 18)
    labels: np.ndarray  # (N, 18)
    ct_embeddings: np.ndarray  # (N, 512)
    text_embeddings: np.ndarray  # (N, 512)
    thresholds: np.ndarray  # (18,)
    metrics: dict

    def summary(self) -> dict[str, float]:
        m = self.metrics
        out = {f"macro_{k}": v for k, v in m["classification"]["macro"].items()}
        out.update({f"r2v_R@{k}": v for k, v in m["report_to_volume"].items()})
        out.update({f"v2v_J@{k}": v for k, v in m["volume_to_volume"].items()})
        return out


@torch.no_grad()
def embed_cases(
    model: CTClip,
    records: list[TrainingCase],
    cache: GridCache,
    text_features: torch.Tensor | None,
    device: torch.device,
    batch_size: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """CT and report embeddings of ``records`` (report features: cached rows, else the tower)."""
    was = model.training
    model.eval()
    cts, txts = [], []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        grid = torch.stack([cache.get(r.case_id) for r in chunk]).to(device)
        cts.append(model.encode_ct(grid).float().cpu())
        if text_features is not None:
            feats = text_features[start : start + len(chunk)].to(device)
            txts.append(model.encode_text_features(feats).float().cpu())
        else:
            txts.append(model.encode_text([r.report for r in chunk]).float().cpu())
    model.train(was)
    return torch.cat(cts).numpy(), torch.cat(txts).numpy()


def evaluate_teacher(
    model: CTClip,
    records: list[TrainingCase],
    cache: GridCache,
    prompts: torch.Tensor,
    text_features: torch.Tensor | None,
    device: torch.device,
    thresholds: np.ndarray | None = None,
) -> TeacherEval:
    """Zero-shot metrics (thresholds: given, else ROC-optimal on these cases) and retrieval."""
    ct, txt = embed_cases(model, records, cache, text_features, device)
    probs = zero_shot_probabilities(
        torch.from_numpy(ct), prompts.cpu(), float(model.logit_scale.detach())
    ).numpy()
    labels = np.stack([r.labels for r in records])
    thr = roc_thresholds(labels, probs) if thresholds is None else np.asarray(thresholds)
    metrics = {
        "n_cases": len(records),
        "classification": classification_report(labels, probs, thr, PATHOLOGIES),
        "report_to_volume": recall_at_k(txt @ ct.T, ks=(1, 5, 10, 50)),
        "volume_to_volume": label_jaccard_at_k(ct, labels, ks=(1, 5, 10)),
    }
    return TeacherEval(probs, labels, ct, txt, thr, metrics)


def evaluate_model_dir(
    model_dir: Path, records: list[TrainingCase], cache_dir: Path | None = None
) -> TeacherEval:
    """Held-out evaluation of an exported teacher with its own (validation) thresholds."""
    from radvoice.nn.clip import load_teacher

    bundle = load_teacher(model_dir, with_text=True)
    cache = GridCache(cache_dir, bundle.clip.dims.grid)
    for r in records:
        cache.ensure(r)
    return evaluate_teacher(
        bundle.clip,
        records,
        cache,
        bundle.prompts,
        None,
        torch.device("cpu"),
        thresholds=bundle.thresholds,
    )
