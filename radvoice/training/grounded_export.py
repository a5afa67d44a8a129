"""Export a grounded CT encoder as a teacher: new CT side, the old teacher's text space.

The written folder loads with :func:`radvoice.nn.clip.load_teacher` like any teacher. The text
weights, prompt embeddings and query prototypes are copied bit for bit from the frozen teacher,
and ``text_space`` records their hash and that teacher's SHA-256, so students distilled into
that space keep loading beside it. Per-class thresholds are ROC-optimal on the held-out
validation cases (all generator kinds, known labels only); the embedding-domain statistics
(:class:`radvoice.nn.domain.EmbeddingDomain`) come from training and validation embeddings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radvoice.labels import PATHOLOGIES
from radvoice.nn.clip import ClipDims, text_space_sha256
from radvoice.nn.domain import EmbeddingDomain
from radvoice.nn.grounded import GroundedCTEncoder
from radvoice.nn.registry import load_model, save_model
from radvoice.nn.speech_student import teacher_weights_sha256
from radvoice.nn.zeroshot import roc_optimal_threshold
from radvoice.training.grounded import Cases, GroundedRun
from radvoice.training.grounded_train import Teacher, macro_auroc, predict


def known_thresholds(labels: np.ndarray, known: np.ndarray, probs: np.ndarray) -> np.ndarray:
    out = np.full(labels.shape[1], 0.5, np.float32)
    for k in range(labels.shape[1]):
        keep = known[:, k]
        y = labels[keep, k]
        if 0 < y.sum() < len(y):
            out[k] = roc_optimal_threshold(y, probs[keep, k])
    return out


def export_grounded(
    state_path: Path, run: GroundedRun, data: Path, teacher_dir: Path, out_dir: Path,
    n_domain_train: int = 400,
) -> dict[str, Any]:  # fmt: skip
    """Write ``out_dir`` (registered); returns the validation summary."""
    state = torch.load(state_path, weights_only=True)
    model = GroundedCTEncoder(run.model)
    model.load_state_dict(state["model"])
    model.eval()
    teacher = Teacher(teacher_dir)
    scale = float(state["log_scale"].exp().clamp(max=100.0))
    cases = Cases(data, run)
    head, zs, emb = predict(model, cases, cases.val, teacher.prompts, scale)
    labels = np.stack([c.labels for c in cases.val])
    known = np.stack([c.known for c in cases.val])
    thresholds = known_thresholds(labels, known, zs)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(cases.train), min(n_domain_train, len(cases.train)), replace=False)
    train_items = [cases.train[i] for i in pick]
    _, _, train_emb = predict(model, cases, train_items, teacher.prompts, scale)
    domain = EmbeddingDomain.fit(train_emb, emb)
    old, old_config, old_dims = load_model(Path(teacher_dir))
    tensors = {f"ct_encoder.{k}": v for k, v in model.state_dict().items()}
    tensors.update({k: v for k, v in old.items() if k.startswith(("text.", "zeroshot."))})
    tensors["zeroshot.thresholds"] = torch.from_numpy(thresholds)
    tensors["log_logit_scale"] = state["log_scale"].detach().float().reshape(())
    tensors["logit_bias"] = torch.zeros(())
    tensors.update(domain.tensors())
    dims = ClipDims.from_dict(old_dims)
    dims.ct, dims.grid = run.model, run.grid
    summary = {
        "val_cases": len(cases.val),
        "val_macro_auroc_zero_shot": macro_auroc(labels, known, zs),
        "val_macro_auroc_head": macro_auroc(labels, known, head),
    }
    config = {k: v for k, v in old_config.items() if k not in ("dims", "training", "thresholds")}
    config.update(
        {
            "ct_encoder": "grounded",
            "logit_scale": scale,
            "thresholds": {p: float(t) for p, t in zip(PATHOLOGIES, thresholds, strict=True)},
            "text_space": {
                "sha256": text_space_sha256(tensors),
                "same_as_teacher_sha256": _same_as(old_config, teacher_dir),
            },
            "training": {
                "run": run.to_dict(),
                "steps": int(state["step"]),
                "train_cases": len(cases.train),
                "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "eval": summary,
            },
        }
    )
    save_model(Path(out_dir), tensors, config, dims.to_dict())
    return summary


def _same_as(old_config: dict, teacher_dir: Path) -> list[str]:
    prior = list((old_config.get("text_space") or {}).get("same_as_teacher_sha256", []))
    sha = teacher_weights_sha256(teacher_dir)
    return prior + ([sha] if sha and sha not in prior else [])
