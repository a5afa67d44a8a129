"""Teacher training: CT encoder + text tower in one space (InfoNCE or SigLIP, prompt-based disease
supervision, false-negative guard), DDP under torchrun, resumable, AMP on GPU, seeded."""

from __future__ import annotations

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
from radvoice.training.cases import CaseRecord, GridCache, split_records
from radvoice.training.config import RunConfig
from radvoice.training.distributed import (
    DistContext,
    all_reduce_mean,
    barrier,
    gather_with_grad,
    init_distributed,
)
from radvoice.training.export import export_teacher, load_trainable_state, trainable_state
from radvoice.training.loop import (
    CHECKPOINT_NAME,
    Timer,
    batch_indices,
    load_checkpoint,
    lr_factor,
    make_logger,
    save_checkpoint,
    seed_everything,
    step_seed,
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
    records: list[CaseRecord], cache: GridCache, ctx: DistContext, logger: Any
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


def train_teacher(  # noqa: C901 - to be split
    cfg: RunConfig,
    records: list[CaseRecord],
    out_dir: Path,
    resume: bool = False,
    cache_dir: Path | None = None,
    progress: bool = True,
    export_dir: Path | None = None,
) -> TrainResult:
    """Train (or resume) the teacher on ``records`` (splits 'train' and 'val') into ``out_dir``.

    ``out_dir`` receives ``train.log``, ``checkpoint.pt``, ``config.json`` and, at the end, the
    exported model in ``export_dir`` (default ``out_dir/model``, registered in its parent).
    """
    ts = cfg.train
    ctx = init_distributed()
    if ts.num_threads > 0:
        torch.set_num_threads(ts.num_threads)
    out_dir = Path(out_dir)
    logger = make_logger(out_dir, cfg.name, ctx.is_main)
    if ctx.is_main:
        (out_dir / STOP_FILE).unlink(missing_ok=True)
    seed_everything(ts.seed)
    train_recs = split_records(records, "train")
    val_recs = split_records(records, "val")
    if not train_recs:
        raise RadVoiceError("no training cases (split 'train') in the data")
    if ts.batch_size < 2 or ts.batch_size % ctx.world_size:
        raise RadVoiceError(
            f"batch_size {ts.batch_size} must be ≥ 2 and divisible by the world size {ctx.world_size}"
        )
    dims = ClipDims.from_dict(cfg.model)
    clip = CTClip(dims).to(ctx.device)
    assert clip.text is not None
    grid_cache = GridCache(cache_dir if cfg.data.cache_grid else None, dims.grid)
    _prepare_grids(train_recs + val_recs, grid_cache, ctx, logger)

    frozen = clip.text.frozen_backbone
    feat_dir = cache_dir if ctx.is_main else None
    prompt_list = prompt_texts(PATHOLOGIES, PROMPT_TEMPLATES)
    if ctx.is_main or cache_dir is None:
        prompt_feats = cached_features(clip.text, prompt_list, feat_dir, "prompts")
        train_feats = cached_features(clip.text, [r.report for r in train_recs], feat_dir, "train")
        val_feats = cached_features(clip.text, [r.report for r in val_recs], feat_dir, "val")
    barrier(ctx)
    if not ctx.is_main and cache_dir is not None:
        prompt_feats = cached_features(clip.text, prompt_list, cache_dir, "prompts")
        train_feats = cached_features(clip.text, [r.report for r in train_recs], cache_dir, "train")
        val_feats = cached_features(clip.text, [r.report for r in val_recs], cache_dir, "val")
    if not frozen:
        logger.info(f"fine-tuning the top {dims.text.n_trainable_layers} MiniLM layer(s)")
    qdata = (
        _query_data(clip, feat_dir if ctx.is_main else cache_dir)
        if dims.loss.query_weight > 0
        else None
    )
    prompt_feats = prompt_feats.to(ctx.device)

    optimizer = torch.optim.AdamW(_param_groups(clip, ts.lr, ts.text_lr, ts.weight_decay))
    start_step, history = 0, []
    ckpt_path = out_dir / CHECKPOINT_NAME
    if resume:
        state = load_checkpoint(ckpt_path)
        load_trainable_state(clip, state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_step = int(state["step"])
        history = list(state.get("history", []))
        logger.info(f"resumed from {ckpt_path} at step {start_step}")
    elif ckpt_path.exists() and ctx.is_main:
        logger.info(f"note: {ckpt_path} exists and will be overwritten (use --resume to continue)")

    fwd: nn.Module = _TeacherForward(clip)
    if ctx.enabled:
        fwd = nn.parallel.DistributedDataParallel(
            fwd, device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None
        )
    use_amp = ts.amp and ctx.device.type == "cuda"
    n_params = sum(p.numel() for p in clip.parameters() if p.requires_grad)
    if ctx.is_main:
        (out_dir / "config.json").write_text(
            __import__("json").dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
        logger.info(
            f"teacher '{cfg.name}': {len(train_recs)} train / {len(val_recs)} val cases, "
            f"{n_params / 1e6:.2f} M trainable parameters, device {ctx.device}, "
            f"world {ctx.world_size}, loss {dims.loss.kind}, disease_weight "
            f"{dims.loss.disease_weight}, fn_guard {dims.loss.fn_guard}"
        )
    if qdata is not None and ctx.is_main:
        logger.info(f"queries at step {start_step}: {_fmt(query_accuracy(clip, qdata))}")
    bar = None
    if progress and ctx.is_main:
        from tqdm import tqdm

        bar = tqdm(total=ts.max_steps, initial=start_step, desc=f"teacher {cfg.name}", leave=False)
    timer = Timer()
    local_bs = ts.batch_size // ctx.world_size
    fwd.train()
    step = start_step
    labels_all = torch.from_numpy(np.stack([r.labels for r in train_recs])).float()
    for step in range(start_step, ts.max_steps):
        factor = lr_factor(step, ts.warmup_steps, ts.max_steps)
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"] * factor
        idx = batch_indices(len(train_recs), ts.batch_size, step, ts.seed)
        local = idx[ctx.rank * local_bs : (ctx.rank + 1) * local_bs]
        # augmentation drawn for the global batch: the same samples whatever the world size
        gen = torch.Generator().manual_seed(step_seed(ts.seed, step))
        offsets = shift_offsets(ts.batch_size, max(ts.augment_shift, 0), gen)
        offsets = offsets[ctx.rank * local_bs : (ctx.rank + 1) * local_bs]
        torch.manual_seed(step_seed(ts.seed, step, ctx.rank))
        grid = torch.stack([grid_cache.get(train_recs[i].case_id) for i in local])
        grid = shift_augment(grid, ts.augment_shift, offsets).to(ctx.device)
        feats = train_feats[torch.from_numpy(local)].to(ctx.device) if frozen else None
        reports = None if frozen else [train_recs[i].report for i in local]
        q_feats = q_targets = proto_feats = None
        if qdata is not None:
            q_pick = torch.randint(0, len(qdata.train_idx), (dims.loss.query_batch,), generator=gen)
            q_idx = qdata.train_idx[q_pick]
            q_feats = qdata.feats[q_idx].to(ctx.device)
            q_targets = qdata.targets[q_idx].to(ctx.device)
            proto_feats = qdata.proto_feats.to(ctx.device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            ct, txt, prompts, q_emb, protos = fwd(
                grid, feats, reports, prompt_feats, q_feats, proto_feats
            )
        ct_all = gather_with_grad(ct.float(), ctx)
        txt_all = gather_with_grad(txt.float(), ctx)
        labels = labels_all[torch.from_numpy(idx)].to(ctx.device)
        parts = clip.losses(
            ct_all, txt_all, labels, prompts.float() if prompts is not None else None
        )
        if q_emb is not None and protos is not None and q_targets is not None:
            parts["query"] = query_loss(q_emb, protos, q_targets, clip.logit_scale)
            parts["loss"] = parts["loss"] + dims.loss.query_weight * parts["query"]
        # Every rank computes the same global loss; all_gather's backward sums the embedding
        # gradients over ranks and DDP averages parameter gradients, which gives dL/dθ exactly.
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        if ts.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(
                [p for p in clip.parameters() if p.requires_grad], ts.grad_clip
            )
        optimizer.step()
        with torch.no_grad():
            clip.log_logit_scale.clamp_(max=float(np.log(100.0)))
        record = {k: float(v.detach()) for k, v in parts.items()}
        record["step"] = step + 1
        record["lr"] = optimizer.param_groups[0]["lr"]
        record["logit_scale"] = float(clip.logit_scale.detach())
        history.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
        if ctx.is_main and ((step + 1) % ts.log_every == 0 or step + 1 == ts.max_steps):
            parts_txt = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("step",))
            logger.info(f"step {step + 1}/{ts.max_steps} {parts_txt} ({timer.elapsed():.0f} s)")
        if ctx.is_main and ts.eval_every > 0 and (step + 1) % ts.eval_every == 0 and val_recs:
            _log_eval(
                clip, val_recs, grid_cache, prompt_feats, val_feats, frozen, ctx, logger, step + 1
            )
            if qdata is not None:
                logger.info(f"eval step {step + 1}: {_fmt(query_accuracy(clip, qdata))}")
        if ctx.is_main and ts.checkpoint_every > 0 and (step + 1) % ts.checkpoint_every == 0:
            _save(ckpt_path, clip, optimizer, step + 1, cfg, history)
        if _should_stop(timer, ts.max_minutes, out_dir, ctx):
            logger.info(f"stopping at step {step + 1} (time budget or {STOP_FILE} file)")
            break
        barrier(ctx)
    if bar is not None:
        bar.close()
    final_step = max(step + 1, start_step) if ts.max_steps > start_step else start_step
    result = TrainResult(step=final_step, history=history)
    if ctx.is_main:
        _save(ckpt_path, clip, optimizer, final_step, cfg, history)
        loss_mean = (
            np.mean([h["loss"] for h in history[-ts.log_every :]]) if history else float("nan")
        )
        logger.info(
            f"done: step {final_step}, recent loss {loss_mean:.4f}, {timer.elapsed():.0f} s"
        )
        eval_recs = val_recs or train_recs
        eval_feats = val_feats if val_recs else train_feats
        with torch.no_grad():
            prompts = clip.prompt_embeddings(prompt_feats, len(PATHOLOGIES)).float()
        ev = evaluate_teacher(
            clip, eval_recs, grid_cache, prompts, eval_feats if frozen else None, ctx.device
        )
        result.eval = ev
        logger.info("final eval on " + ("val" if val_recs else "train") + ": " + _fmt(ev.summary()))
        if qdata is not None:
            logger.info("final query eval: " + _fmt(query_accuracy(clip, qdata)))
        result.model_dir = export_teacher(
            clip, prompts, ev, export_dir or out_dir / "model", cfg, final_step
        )
        logger.info(f"exported {result.model_dir}")
    all_reduce_mean(0.0, ctx)
    return result


STOP_FILE = "STOP"


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


def _should_stop(timer: Timer, max_minutes: float, out_dir: Path, ctx: DistContext) -> bool:
    """Time budget spent or ``out_dir/STOP`` present; the same decision on every rank (rank 0's)."""
    over = float(
        (max_minutes > 0 and timer.elapsed() > max_minutes * 60) or (out_dir / STOP_FILE).exists()
    )
    if ctx.enabled:
        t = torch.tensor([over])
        torch.distributed.broadcast(t, 0)
        over = float(t.item())
    return over > 0


def _fmt(summary: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in summary.items())


def _log_eval(
    clip: CTClip,
    val_recs: list[CaseRecord],
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
