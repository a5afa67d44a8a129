"""Teacher training: CT encoder + text tower in one space (InfoNCE or SigLIP, prompt-based disease
supervision, false-negative guard), DDP under torchrun, resumable, AMP on GPU, seeded."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES
from radvoice.nn.clip import ClipDims, CTClip
from radvoice.nn.losses import query_loss
from radvoice.nn.zeroshot import PROMPT_TEMPLATES, prompt_texts
from radvoice.training.cases import GridCache, TrainingCase, split_records
from radvoice.training.config import RunConfig
from radvoice.training.distributed import (
    DistContext,
    all_reduce_mean,
    barrier,
    gather_with_grad,
)
from radvoice.training.export import export_teacher, load_trainable_state, trainable_state
from radvoice.training.loop import (
    CHECKPOINT_NAME,
    RunState,
    batch_indices,
    resume_run,
    run_steps,
    save_checkpoint,
    start_run,
    step_seed,
    wrap_ddp,
)
from radvoice.training.teacher_eval import TeacherEval, evaluate_teacher
from radvoice.training.text_cache import cached_features


@dataclass
class TrainResult:
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    eval: TeacherEval | None = None
    model_dir: Path | None = None


class _TeacherForward(nn.Module):
    """What DDP wraps: one forward computing CT, report and prompt embeddings."""

    def __init__(self, clip: CTClip) -> None:
        super().__init__()
        self.clip = clip

    def forward(
        self,
        grid: torch.Tensor,
        report_feats: torch.Tensor | None,
        reports: list[str] | None,
        prompt_feats: torch.Tensor | None,
        query_feats: torch.Tensor | None = None,
        proto_feats: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        ct = self.clip.encode_ct(grid)
        if report_feats is not None:
            txt = self.clip.encode_text_features(report_feats)
        else:
            txt = self.clip.encode_text(reports or [])
        prompts = None
        if prompt_feats is not None:
            prompts = self.clip.prompt_embeddings(prompt_feats, len(PATHOLOGIES))
        queries = protos = None
        if query_feats is not None and proto_feats is not None:
            queries = self.clip.encode_text_features(query_feats).float()
            protos = self.clip.query_prototypes_from_features(proto_feats).float()
        return ct, txt.float(), prompts, queries, protos


def shift_offsets(n: int, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """``(n, 3)`` random (z, y, x) crop offsets in ``[0, 2 * max_shift]``."""
    return torch.randint(0, 2 * max_shift + 1, (n, 3), generator=gen)


def shift_augment(x: torch.Tensor, max_shift: int, offsets: torch.Tensor) -> torch.Tensor:
    """Translate each volume by ``offsets - max_shift`` voxels per axis (air fill)."""
    if max_shift <= 0:
        return x
    s = max_shift
    padded = F.pad(x, (s, s, s, s, s, s), value=-1.0)
    d, h, w = x.shape[-3:]
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        oz, oy, ox = (int(v) for v in offsets[b])
        out[b] = padded[b, :, oz : oz + d, oy : oy + h, ox : ox + w]
    return out


def _param_groups(clip: CTClip, lr: float, text_lr: float, wd: float) -> list[dict[str, Any]]:
    main_decay, main_no, text_params = [], [], []
    for name, p in clip.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("text.backbone."):
            text_params.append(p)
        elif p.ndim >= 2:
            main_decay.append(p)
        else:
            main_no.append(p)
    groups = [
        {"params": main_decay, "lr": lr, "weight_decay": wd, "base_lr": lr},
        {"params": main_no, "lr": lr, "weight_decay": 0.0, "base_lr": lr},
    ]
    if text_params:
        groups.append(
            {"params": text_params, "lr": text_lr, "weight_decay": wd, "base_lr": text_lr}
        )
    return groups


def _prepare_grids(
    records: list[TrainingCase], cache: GridCache, ctx: DistContext, logger: Any
) -> None:
    mine = records[ctx.rank :: ctx.world_size]
    for i, r in enumerate(mine):
        cache.ensure(r)
        if (i + 1) % 100 == 0:
            logger.info(f"grid cache: {i + 1}/{len(mine)} cases")
    barrier(ctx)
    if cache.folder is None and ctx.enabled:
        for r in records:
            cache.ensure(r)


def train_teacher(
    cfg: RunConfig,
    records: list[TrainingCase],
    out_dir: Path,
    resume: bool = False,
    cache_dir: Path | None = None,
    progress: bool = True,
    export_dir: Path | None = None,
) -> TrainResult:
    """Train (or resume) the teacher on ``records`` (splits 'train' and 'val') into ``out_dir``.

    ``out_dir`` receives ``train.log``, ``checkpoint.pt``, ``config.json`` and, at the end, the
    exported model in ``export_dir`` (default ``out_dir/model``, registered in its parent).
    The loop itself is :func:`radvoice.training.loop.run_steps`.
    """
    if not split_records(records, "train"):
        raise RadVoiceError("no training cases (split 'train') in the data")
    run = start_run(cfg.train, out_dir, cfg.name)
    task = _TeacherTask(cfg, _teacher_data(cfg, records, cache_dir, run), run)
    resume_run(run, resume, lambda state: load_trainable_state(task.d.clip, state))
    task.start()
    final = run_steps(task, run, f"teacher {cfg.name}", progress)
    result = TrainResult(step=final, history=run.history)
    if run.ctx.is_main:
        task.finish(final, result, export_dir or run.out_dir / "model")
    all_reduce_mean(0.0, run.ctx)
    return result


@dataclass
class _TeacherData:
    """The model and everything a teacher step reads, prepared once per run."""

    clip: CTClip
    dims: ClipDims
    train_recs: list[TrainingCase]
    val_recs: list[TrainingCase]
    grids: GridCache
    prompt_feats: torch.Tensor
    train_feats: torch.Tensor
    val_feats: torch.Tensor
    qdata: QueryData | None
    labels: torch.Tensor  # (n_train, 18)

    @property
    def frozen(self) -> bool:
        assert self.clip.text is not None
        return self.clip.text.frozen_backbone


def _teacher_data(
    cfg: RunConfig, records: list[TrainingCase], cache_dir: Path | None, run: RunState
) -> _TeacherData:
    """Model (initialised after the seed), grid cache and frozen text features; rank 0 fills
    the caches first, the other ranks read them."""
    ctx, logger = run.ctx, run.logger
    train_recs, val_recs = split_records(records, "train"), split_records(records, "val")
    dims = ClipDims.from_dict(cfg.model)
    clip = CTClip(dims).to(ctx.device)
    assert clip.text is not None
    grids = GridCache(cache_dir if cfg.data.cache_grid else None, dims.grid)
    _prepare_grids(train_recs + val_recs, grids, ctx, logger)
    prompt_list = prompt_texts(PATHOLOGIES, PROMPT_TEMPLATES)
    texts = {"prompts": prompt_list, "train": [r.report for r in train_recs]}
    texts["val"] = [r.report for r in val_recs]
    feats: dict[str, torch.Tensor] = {}
    if ctx.is_main or cache_dir is None:
        feat_dir = cache_dir if ctx.is_main else None
        feats = {k: cached_features(clip.text, v, feat_dir, k) for k, v in texts.items()}
    barrier(ctx)
    if not ctx.is_main and cache_dir is not None:
        feats = {k: cached_features(clip.text, v, cache_dir, k) for k, v in texts.items()}
    if not clip.text.frozen_backbone:
        logger.info(f"fine-tuning the top {dims.text.n_trainable_layers} MiniLM layer(s)")
    qdata = _query_data(clip, cache_dir) if dims.loss.query_weight > 0 else None
    labels = torch.from_numpy(np.stack([r.labels for r in train_recs])).float()
    return _TeacherData(
        clip, dims, train_recs, val_recs, grids, feats["prompts"].to(ctx.device),
        feats["train"], feats["val"], qdata, labels,
    )  # fmt: skip


class _TeacherTask:
    """One teacher step (CT + report + prompt embeddings, CLIP losses + query loss) and its
    periodic evaluation and checkpoints, for :func:`run_steps`."""

    def __init__(self, cfg: RunConfig, data: _TeacherData, run: RunState) -> None:
        self.cfg, self.d, self.run = cfg, data, run
        ts = cfg.train
        run.optimizer = torch.optim.AdamW(
            _param_groups(data.clip, ts.lr, ts.text_lr, ts.weight_decay)
        )
        self.fwd: nn.Module = _TeacherForward(data.clip)
        self.use_amp = ts.amp and run.ctx.device.type == "cuda"

    def start(self) -> None:
        """DDP wrapping (after a resume), ``config.json`` and the run's summary in the log."""
        d, run = self.d, self.run
        self.fwd = wrap_ddp(self.fwd, run.ctx)
        if run.ctx.is_main:
            (run.out_dir / "config.json").write_text(
                json.dumps(self.cfg.to_dict(), indent=2) + "\n", encoding="utf-8"
            )
            n_params = sum(p.numel() for p in d.clip.parameters() if p.requires_grad)
            run.logger.info(
                f"teacher '{self.cfg.name}': {len(d.train_recs)} train / {len(d.val_recs)} val "
                f"cases, {n_params / 1e6:.2f} M trainable parameters, device {run.ctx.device}, "
                f"world {run.ctx.world_size}, loss {d.dims.loss.kind}, disease_weight "
                f"{d.dims.loss.disease_weight}, fn_guard {d.dims.loss.fn_guard}"
            )
            if d.qdata is not None:
                q = _fmt(query_accuracy(d.clip, d.qdata))
                run.logger.info(f"queries at step {run.start_step}: {q}")
        self.fwd.train()

    def train_step(self, step: int) -> dict[str, float]:
        ctx, d = self.run.ctx, self.d
        idx, grid, gen = self._batch(step)
        local = idx[ctx.rank * self._local_bs : (ctx.rank + 1) * self._local_bs]
        feats = d.train_feats[torch.from_numpy(local)].to(ctx.device) if d.frozen else None
        reports = None if d.frozen else [d.train_recs[i].report for i in local]
        q_feats = q_targets = proto_feats = None
        if d.qdata is not None:
            pick = torch.randint(
                0, len(d.qdata.train_idx), (d.dims.loss.query_batch,), generator=gen
            )
            q_idx = d.qdata.train_idx[pick]
            q_feats, q_targets = d.qdata.feats[q_idx].to(ctx.device), d.qdata.targets[q_idx]
            q_targets, proto_feats = q_targets.to(ctx.device), d.qdata.proto_feats.to(ctx.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
            ct, txt, prompts, q_emb, protos = self.fwd(
                grid, feats, reports, d.prompt_feats, q_feats, proto_feats
            )
        parts = teacher_loss_parts(
            d, ct, txt, prompts, d.labels[torch.from_numpy(idx)].to(ctx.device), ctx,
            (q_emb, protos, q_targets),
        )  # fmt: skip
        # Every rank computes the same global loss; all_gather's backward sums the embedding
        # gradients over ranks and DDP averages parameter gradients, which gives dL/dθ exactly.
        self._optimise(parts["loss"])
        record = {k: float(v.detach()) for k, v in parts.items()}
        record["step"] = step + 1
        record["lr"] = self.run.optimizer.param_groups[0]["lr"]
        record["logit_scale"] = float(d.clip.logit_scale.detach())
        return record

    @property
    def _local_bs(self) -> int:
        return self.cfg.train.batch_size // self.run.ctx.world_size

    def _batch(self, step: int) -> tuple[np.ndarray, torch.Tensor, torch.Generator]:
        """The global batch of ``step``, this rank's shifted grids and the step's generator;
        augmentation is drawn for the global batch (the same samples whatever the world size)."""
        ts, ctx, d, bs = self.cfg.train, self.run.ctx, self.d, self._local_bs
        idx = batch_indices(len(d.train_recs), ts.batch_size, step, ts.seed)
        local = idx[ctx.rank * bs : (ctx.rank + 1) * bs]
        gen = torch.Generator().manual_seed(step_seed(ts.seed, step))
        offsets = shift_offsets(ts.batch_size, max(ts.augment_shift, 0), gen)
        offsets = offsets[ctx.rank * bs : (ctx.rank + 1) * bs]
        torch.manual_seed(step_seed(ts.seed, step, ctx.rank))
        grid = torch.stack([d.grids.get(d.train_recs[i].case_id) for i in local])
        return idx, shift_augment(grid, ts.augment_shift, offsets).to(ctx.device), gen

    def _optimise(self, loss: torch.Tensor) -> None:
        opt, clip, clip_norm = self.run.optimizer, self.d.clip, self.cfg.train.grad_clip
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm > 0:
            params = [p for p in clip.parameters() if p.requires_grad]
            torch.nn.utils.clip_grad_norm_(params, clip_norm)
        opt.step()
        with torch.no_grad():
            clip.log_logit_scale.clamp_(max=float(np.log(100.0)))

    def evaluate(self, step: int) -> None:
        d, run = self.d, self.run
        if not d.val_recs:
            return
        _log_eval(
            d.clip, d.val_recs, d.grids, d.prompt_feats, d.val_feats, d.frozen, run.ctx,
            run.logger, step,
        )  # fmt: skip
        if d.qdata is not None:
            run.logger.info(f"eval step {step}: {_fmt(query_accuracy(d.clip, d.qdata))}")

    def checkpoint(self, step: int, history: list[dict[str, float]]) -> None:
        run = self.run
        _save(run.out_dir / CHECKPOINT_NAME, self.d.clip, run.optimizer, step, self.cfg, history)

    def finish(self, final: int, result: TrainResult, export_dir: Path) -> None:
        """Last checkpoint, the final evaluation (val, else train) and the export."""
        d, run, ts = self.d, self.run, self.cfg.train
        self.checkpoint(final, run.history)
        recent = run.history[-ts.log_every :]
        loss_mean = np.mean([h["loss"] for h in recent]) if recent else float("nan")
        run.logger.info(
            f"done: step {final}, recent loss {loss_mean:.4f}, {run.timer.elapsed():.0f} s"
        )
        on_val = bool(d.val_recs)
        with torch.no_grad():
            prompts = d.clip.prompt_embeddings(d.prompt_feats, len(PATHOLOGIES)).float()
        feats = (d.val_feats if on_val else d.train_feats) if d.frozen else None
        recs = d.val_recs if on_val else d.train_recs
        result.eval = evaluate_teacher(d.clip, recs, d.grids, prompts, feats, run.ctx.device)
        run.logger.info(
            f"final eval on {'val' if on_val else 'train'}: {_fmt(result.eval.summary())}"
        )
        if d.qdata is not None:
            run.logger.info("final query eval: " + _fmt(query_accuracy(d.clip, d.qdata)))
        result.model_dir = export_teacher(d.clip, prompts, result.eval, export_dir, self.cfg, final)
        run.logger.info(f"exported {result.model_dir}")


def teacher_loss_parts(
    d: _TeacherData,
    ct: torch.Tensor,
    txt: torch.Tensor,
    prompts: torch.Tensor | None,
    labels: torch.Tensor,
    ctx: DistContext,
    query: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None],
) -> dict[str, torch.Tensor]:
    """The teacher's loss and its parts: the CLIP losses on the global batch (embeddings
    gathered with gradients) + the spoken-query loss, weighted."""
    ct_all = gather_with_grad(ct.float(), ctx)
    txt_all = gather_with_grad(txt.float(), ctx)
    parts = d.clip.losses(ct_all, txt_all, labels, prompts.float() if prompts is not None else None)
    q_emb, protos, q_targets = query
    if q_emb is not None and protos is not None and q_targets is not None:
        parts["query"] = query_loss(q_emb, protos, q_targets, d.clip.logit_scale)
        parts["loss"] = parts["loss"] + d.dims.loss.query_weight * parts["query"]
    return parts


@dataclass
class QueryData:
    """Frozen features of the spoken-query phrasings and of the prototype templates."""

    feats: torch.Tensor  # (Q, 384)
    targets: torch.Tensor  # (Q,) pathology index
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    proto_feats: torch.Tensor  # (L·T, 384)


def _query_data(clip: CTClip, folder: Path | None) -> QueryData:
    """All phrasings of :mod:`radvoice.data.queries`; a fixed 15 % (by text hash) is held out."""
    import zlib

    from radvoice.data.queries import ALL_QUERIES
    from radvoice.nn.zeroshot import query_texts

    assert clip.text is not None
    texts = [t for t, _ in ALL_QUERIES]
    targets = torch.tensor([PATHOLOGIES.index(lab) for _, lab in ALL_QUERIES])
    held = torch.tensor([zlib.crc32(t.encode("utf-8")) % 100 < 15 for t in texts])
    return QueryData(
        feats=cached_features(clip.text, texts, folder, "queries"),
        targets=targets,
        train_idx=torch.nonzero(~held).flatten(),
        val_idx=torch.nonzero(held).flatten(),
        proto_feats=cached_features(clip.text, query_texts(), folder, "query_protos"),
    )


def query_accuracy(clip: CTClip, q: QueryData) -> dict[str, float]:
    """Top-1 pathology of the held-out and the training query phrasings."""
    with torch.no_grad():
        protos = clip.query_prototypes_from_features(q.proto_feats).float()
        pred = (clip.encode_text_features(q.feats).float() @ protos.T).argmax(1)
    ok = (pred == q.targets).float()
    return {
        "query_top1_val": float(ok[q.val_idx].mean()),
        "query_top1_train": float(ok[q.train_idx].mean()),
    }


def _fmt(summary: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in summary.items())


def _log_eval(
    clip: CTClip,
    val_recs: list[TrainingCase],
    cache: GridCache,
    prompt_feats: torch.Tensor,
    val_feats: torch.Tensor,
    frozen: bool,
    ctx: DistContext,
    logger: Any,
    step: int,
) -> None:
    with torch.no_grad():
        prompts = clip.prompt_embeddings(prompt_feats, len(PATHOLOGIES)).float()
    ev = evaluate_teacher(clip, val_recs, cache, prompts, val_feats if frozen else None, ctx.device)
    logger.info(f"eval step {step}: {_fmt(ev.summary())}")


def _save(
    path: Path,
    clip: CTClip,
    optimizer: torch.optim.Optimizer,
    step: int,
    cfg: RunConfig,
    history: list[dict[str, float]],
) -> None:
    save_checkpoint(
        path,
        {
            "step": step,
            "model": {k: v.detach().cpu() for k, v in trainable_state(clip).items()},
            "optimizer": optimizer.state_dict(),
            "config": cfg.to_dict(),
            "history": history,
        },
    )
