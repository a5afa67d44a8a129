"""Export a trained teacher to ``<dir>/{config.json, model.safetensors}`` (registered) and load it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from radvoice.labels import PATHOLOGIES
from radvoice.nn.clip import CTClip
from radvoice.nn.registry import save_model
from radvoice.nn.zeroshot import PROMPT_TEMPLATES, QUERY_TEMPLATES, build_query_prototypes
from radvoice.training.config import RunConfig
from radvoice.training.loop import CheckpointError
from radvoice.training.teacher_eval import TeacherEval


def trainable_state(clip: CTClip) -> dict[str, torch.Tensor]:
    """Everything training changes (the frozen MiniLM weights come from their package)."""
    state = {f"ct_encoder.{k}": v for k, v in clip.ct_encoder.state_dict().items()}
    if clip.text is not None:
        state.update({f"text.{k}": v for k, v in clip.text.trainable_state_dict().items()})
    state["log_logit_scale"] = clip.log_logit_scale.detach()
    state["logit_bias"] = clip.logit_bias.detach()
    return state


def load_trainable_state(clip: CTClip, state: dict[str, torch.Tensor]) -> None:
    missing, unexpected = clip.load_state_dict(state, strict=False)
    need = [k for k in missing if k.startswith("ct_encoder.") or k.startswith("text.projection.")]
    if need or unexpected:
        raise CheckpointError(
            f"checkpoint does not fit the model ({len(need)} missing, {len(unexpected)} unexpected)"
        )


def export_teacher(
    clip: CTClip,
    prompts: torch.Tensor,
    ev: TeacherEval,
    model_dir: Path,
    cfg: RunConfig,
    step: int,
) -> Path:
    """Write the teacher's trainable weights, cached prompt embeddings and thresholds."""
    tensors = dict(trainable_state(clip))
    tensors["zeroshot.prompts"] = prompts.detach().float().cpu()
    tensors["zeroshot.thresholds"] = torch.from_numpy(np.asarray(ev.thresholds, dtype=np.float32))
    if clip.text is not None:
        with torch.no_grad():
            was = clip.training
            clip.eval()
            tensors["zeroshot.query_prototypes"] = build_query_prototypes(clip.encode_text).cpu()
            clip.train(was)
    config: dict[str, Any] = {
        "model_type": "radvoice-ct-clip-teacher",
        "pathologies": list(PATHOLOGIES),
        "prompt_templates": [list(t) for t in PROMPT_TEMPLATES],
        "query_templates": list(QUERY_TEMPLATES),
        "logit_scale": float(clip.logit_scale.detach()),
        "thresholds": {p: float(t) for p, t in zip(PATHOLOGIES, ev.thresholds, strict=True)},
        "training": {
            "run": cfg.to_dict(),
            "steps": step,
            "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "eval_n_cases": ev.metrics["n_cases"],
            "eval": ev.summary(),
        },
    }
    save_model(model_dir, tensors, config, clip.dims.to_dict())
    return Path(model_dir)


def publish_model(src_dir: Path, dst_dir: Path) -> list[Path]:
    """Copy a checked model folder (e.g. ``runs/x/model``) to ``dst_dir`` (e.g.
    ``models/teacher``) and register the copies in ``dst_dir.parent/registry.json``."""
    import shutil

    from radvoice.nn.registry import CONFIG_NAME, WEIGHTS_NAME, register_files, verify_file

    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        verify_file(src_dir / name, src_dir.parent)
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        shutil.copy2(src_dir / name, dst_dir / name)
        out.append(dst_dir / name)
    register_files(out, dst_dir.parent)
    return out
