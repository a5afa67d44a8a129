"""The grounded encoder's training loop: resume, time budget, STOP file, periodic evaluation."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from radvoice.metrics import auroc
from radvoice.nn.grounded import GroundedCTEncoder
from radvoice.nn.zeroshot import zero_shot_probabilities
from radvoice.training.grounded import Cases, GroundedRun, ReportEmbeddings, augment, lr_at
from radvoice.training.grounded_losses import create_loss

log = logging.getLogger(__name__)


class Teacher:
    """The frozen half: text tower, prompts, query prototypes and logit scale of a teacher."""

    def __init__(self, teacher_dir: Path) -> None:
        from radvoice.nn.clip import load_teacher

        self.dir = Path(teacher_dir)
        self.bundle = load_teacher(self.dir, with_text=True)
        self.prompts = self.bundle.prompts.float()
        self.scale = float(self.bundle.clip.logit_scale.detach())

    def encode(self, texts: list[str]) -> torch.Tensor:
        return self.bundle.clip.encode_text(texts)


@torch.inference_mode()
def predict(model, cases: Cases, items, prompts, scale: float, batch: int = 8):
    """Head probabilities, zero-shot probabilities and embeddings of ``items``."""
    model.eval()
    heads, zs, embs = [], [], []
    for i in range(0, len(items), batch):
        chunk = items[i : i + batch]
        out = model.analyse(cases.batch(chunk)["grid"])
        emb = torch.nn.functional.normalize(out.embedding.float(), dim=-1)
        heads.append(torch.sigmoid(out.logits).numpy())
        zs.append(zero_shot_probabilities(emb, prompts, scale).numpy())
        embs.append(emb.numpy())
    model.train()
    return np.concatenate(heads), np.concatenate(zs), np.concatenate(embs)


def macro_auroc(labels: np.ndarray, known: np.ndarray, probs: np.ndarray) -> float:
    vals = []
    for k in range(labels.shape[1]):
        keep = known[:, k]
        y = labels[keep, k]
        if 0 < y.sum() < len(y):
            vals.append(auroc(y, probs[keep, k]))
    return float(np.mean(vals)) if vals else float("nan")


def evaluate(model, cases: Cases, teacher: Teacher, scale: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for kind in ("phantom", "real", "full"):
        items = [c for c in cases.val if c.kind == kind]
        if len(items) < 4:
            continue
        head, zs, _ = predict(model, cases, items, teacher.prompts, scale)
        labels = np.stack([c.labels for c in items])
        known = np.stack([c.known for c in items])
        out[f"{kind}_head"] = macro_auroc(labels, known, head)
        out[f"{kind}_zs"] = macro_auroc(labels, known, zs)
        out[f"{kind}_n"] = len(items)
    return out


def train(
    run: GroundedRun, data: Path, out: Path, teacher_dir: Path, init: Path | None = None
) -> Path:
    """Train (or resume) into ``out``; returns the path of the last checkpoint. ``init``: a
    checkpoint whose weights start a new run (its step and optimiser state are not kept)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(run.num_threads)
    torch.manual_seed(run.seed)
    teacher = Teacher(teacher_dir)
    model = GroundedCTEncoder(run.model)
    log_scale = torch.nn.Parameter(torch.tensor(np.log(teacher.scale), dtype=torch.float32))
    params = [*model.parameters(), log_scale]
    opt = torch.optim.AdamW(params, lr=run.lr, weight_decay=run.weight_decay)
    step = 0
    state_path = out / "state.pt"
    if state_path.is_file():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"])
        log_scale.data.copy_(state["log_scale"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
        log.info(f"resumed at step {step}")
    elif init is not None:
        state = torch.load(init, weights_only=True)
        model.load_state_dict(state["model"])
        log_scale.data.copy_(state["log_scale"])
        log.info(f"weights from {init}")
    (out / "run.json").write_text(json.dumps(run.to_dict(), indent=2))
    cases = Cases(data, run)
    reports = ReportEmbeddings(out / "report_embeddings.npz", teacher.encode)
    loss_fn = create_loss(run.loss)
    g = torch.Generator().manual_seed(run.seed * 100003 + step)
    t0 = time.time()
    model.train()
    while step < run.max_steps:
        if (out / "STOP").exists() or (time.time() - t0) / 60 > run.max_minutes:
            log.info(f"stopping at step {step} (STOP file or time budget)")
            break
        if step % run.refresh_every == 0:
            cases.refresh()
            reports.ensure(cases.train)
        idx = torch.randint(0, len(cases.train), (run.batch_size,), generator=g).tolist()
        chosen = [cases.train[i] for i in idx]
        batch = cases.batch(chosen)
        augment(batch, run, g)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, run)
        res = model.analyse(batch["grid"])
        scale = log_scale.exp().clamp(max=100.0)
        parts = loss_fn(
            res, batch["masks"], batch["labels"], batch["known"], reports.get(chosen),
            teacher.prompts, scale,
        )  # fmt: skip
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 2.0)
        opt.step()
        step += 1
        if step % 10 == 0:
            txt = " ".join(f"{k} {float(v.detach()):.3f}" for k, v in parts.items())
            log.info(f"step {step} n_train {len(cases.train)} lr {lr_at(step, run):.2e} {txt}")
        if step % run.checkpoint_every == 0 or step == run.max_steps:
            _save(state_path, model, log_scale, opt, step)
        if step % run.eval_every == 0 or step == run.max_steps:
            metrics = evaluate(model, cases, teacher, float(scale.detach()))
            log.info(f"eval step {step} " + json.dumps({k: round(v, 4) for k, v in metrics.items()}))
            with open(out / "eval.jsonl", "a") as fh:
                fh.write(json.dumps({"step": step, **metrics}) + "\n")
    _save(state_path, model, log_scale, opt, step)
    return state_path


def _save(path: Path, model, log_scale, opt, step: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(
        {"model": model.state_dict(), "log_scale": log_scale.detach(), "opt": opt.state_dict(),
         "step": step},
        tmp,
    )  # fmt: skip
    tmp.replace(path)
