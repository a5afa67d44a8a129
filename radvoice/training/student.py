"""Speech-student training: contrastive against frozen CT embeddings + distillation to the teacher.

Per step, ``batch_size`` spoken reports (training voices) are embedded by the student exactly as
it runs (chunked windows, :mod:`radvoice.nn.streaming`) and pulled towards the frozen teacher CT
embeddings of their cases (symmetric InfoNCE with the false-negative guard) and, with
``kd_weight`` > 0, towards the frozen teacher text embedding of the same report. ``query_batch``
spoken queries and zero-shot prompts are distilled towards the teacher embedding of the same
text (``query_kd_weight``). ``kd_weight = query_kd_weight = 0`` is the no-distillation baseline.

While the Whisper encoder is frozen its chunked output is cached (:class:`FeatureCache`), so a
CPU step only runs the head. DDP (torchrun), resume, AMP on GPU, seeding and the log follow the
teacher loop (:mod:`radvoice.training.loop`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES
from radvoice.nn.losses import (
    ct_metric,
    distillation_loss,
    false_negative_mask,
    info_nce,
    projected_kd,
    row_mean,
)
from radvoice.training.config import ConfigError, RunConfig
from radvoice.training.distributed import (
    DistContext,
    all_reduce_mean,
    gather_with_grad,
    main_rank_first,
)
from radvoice.training.frame_augment import FrameAugment, augment_chunks
from radvoice.training.loop import (
    CHECKPOINT_NAME,
    CheckpointError,
    RunState,
    Timer,
    batch_indices,
    resume_run,
    run_steps,
    save_checkpoint,
    start_run,
    step_seed,
    wrap_ddp,
)
from radvoice.training.student_data import (
    CorpusUtterance,
    FeatureCache,
    TeacherTargets,
    encoder_key,
    select,
    teacher_key,
)

QUERY_KINDS = ("query", "prompt")


@dataclass
class StudentLoss:
    contrastive_weight: float = 1.0
    kd_weight: float = 1.0  # report → teacher report-text embedding
    query_kd_weight: float = 1.0  # query/prompt → teacher text embedding
    query_batch: int = 16
    # queries/prompts: KL from the teacher's softmax over its 18 query prototypes (temperature
    # ``proto_temperature``) to the student's — distils *which pathology* a question is about
    query_proto_weight: float = 0.0
    # prompts: the same over the teacher's 36 zero-shot prompt embeddings (18 × present/absent),
    # so a spoken prompt keeps both its pathology and its polarity
    prompt_proto_weight: float = 0.0
    # prompts: error of the spoken prompt's embedding measured where zero-shot scores live — the
    # covariance of the training CT embeddings, in units of the teacher's present−absent spread
    # (:func:`radvoice.nn.losses.projected_kd`)
    zeroshot_kd_weight: float = 0.0
    # the metric is the sum of that covariance with its spectrum capped at each of these shares
    # of its largest variance (1: as measured; 0.01: the main CT directions weigh alike whatever
    # their training proportions, see :func:`radvoice.nn.losses.ct_metric`)
    zeroshot_metric_caps: tuple[float, ...] = (1.0,)
    # share of spoken questions (vs prompts) in each query batch; 0: uniform over both
    question_share: float = 0.0
    proto_temperature: float = 0.05
    fn_guard: bool = True
    temperature: float = 0.07
    learn_temperature: bool = True

    def __post_init__(self) -> None:
        caps = tuple(float(c) for c in self.zeroshot_metric_caps)
        if not caps or not all(0 < c <= 1 for c in caps):
            raise ConfigError(f"loss.zeroshot_metric_caps: one or more caps in (0, 1], got {caps}")
        self.zeroshot_metric_caps = caps

    @property
    def distills(self) -> bool:
        return self.kd_weight > 0 or self.query_kd_weight > 0


def query_batch_indices(
    is_question: np.ndarray, size: int, step: int, seed: int, question_share: float
) -> np.ndarray:
    """Global query batch over items flagged ``is_question`` (spoken questions) or not (prompts):
    uniform over all, or ``question_share`` of it drawn from the questions and the rest from
    the prompts (each pool in epochs), interleaved so every DDP rank's slice gets both."""
    questions = np.flatnonzero(is_question)
    prompts = np.flatnonzero(~is_question)
    if question_share <= 0 or not len(questions) or not len(prompts):
        return batch_indices(len(is_question), size, step, seed + 1)
    n_q = min(size, max(1, round(size * question_share)))
    parts = [questions[batch_indices(len(questions), n_q, step, seed + 1)]]
    if size - n_q > 0:
        parts.append(prompts[batch_indices(len(prompts), size - n_q, step, seed + 2)])
    out = np.concatenate(parts)
    return out[np.random.default_rng(step_seed(seed, step)).permutation(len(out))]


def prototype_kd(
    student: torch.Tensor,
    teacher: torch.Tensor,
    prototypes: torch.Tensor,
    temperature: float,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(teacher ‖ student) of the softmax over ``prototypes``, both at ``temperature``;
    averaged over rows (weighted by ``weights``, 0 when no row has weight)."""
    t = F.softmax(F.normalize(teacher, dim=-1) @ prototypes.T / temperature, dim=-1)
    s = F.log_softmax(F.normalize(student, dim=-1) @ prototypes.T / temperature, dim=-1)
    return row_mean((t * (t.clamp_min(1e-12).log() - s)).sum(-1), weights)


@dataclass
class StudentSpec:
    """``cfg.model`` of a student run."""

    whisper: str | None = "whisper-tiny.en"  # folder under models/; None: random ``encoder``
    encoder: dict[str, int] = field(default_factory=dict)
    head: dict[str, Any] = field(default_factory=dict)
    chunking: dict[str, Any] = field(default_factory=dict)
    train_top_layers: int = 0
    loss: StudentLoss = field(default_factory=StudentLoss)
    augment: FrameAugment = field(default_factory=FrameAugment)  # cached frames, training only

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudentSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown student model field(s): {', '.join(sorted(unknown))}")
        try:
            loss = StudentLoss(**d.get("loss", {}))
            augment = FrameAugment(**d.get("augment", {}))
            rest = {k: v for k, v in d.items() if k not in ("loss", "augment")}
            return cls(**rest, loss=loss, augment=augment)
        except TypeError as err:
            raise ConfigError(f"invalid student model config: {err}") from None

    def build(self, models_root: Path):
        """A fresh student (Whisper weights from ``models_root/<whisper>`` when named)."""
        from radvoice.nn.speech_student import HeadConfig, SpeechStudent, StudentConfig
        from radvoice.nn.streaming import ChunkingConfig
        from radvoice.nn.whisper.model import WhisperDims

        head = HeadConfig(**self.head)
        chunking = ChunkingConfig.from_dict(self.chunking)
        if self.whisper:
            return SpeechStudent.from_whisper(
                models_root / self.whisper, head, chunking, self.train_top_layers
            )
        cfg = StudentConfig(
            encoder=WhisperDims.from_dict({**WhisperDims().to_dict(), **self.encoder}),
            head=head,
            chunking=chunking,
            train_top_layers=self.train_top_layers,
            encoder_name="random",
        )
        return SpeechStudent(cfg)


@dataclass
class StudentResult:
    step: int
    history: list[dict[str, float]] = field(default_factory=list)
    val: dict[str, float] = field(default_factory=dict)
    model_dir: Path | None = None
    seconds: float = 0.0


class _Head(nn.Module):
    """What DDP wraps: the student head on cached chunk features."""

    def __init__(self, student, log_scale: nn.Parameter) -> None:
        super().__init__()
        self.student = student
        self.log_scale = log_scale

    def forward(self, chunks: list[list[torch.Tensor]]) -> torch.Tensor:
        return self.student.forward_chunks(chunks)


@dataclass
class StudentData:
    """Everything one run needs in memory: utterances by role, features and teacher targets."""

    train_reports: list[CorpusUtterance]
    train_queries: list[CorpusUtterance]
    val_reports: list[CorpusUtterance]
    val_queries: list[CorpusUtterance]
    features: FeatureCache
    targets: TeacherTargets
    labels: dict[str, np.ndarray]
    dev_cases: list[str] = field(default_factory=list)  # unspoken CTs: spoken zero-shot dev set
    # training-split prompts of engines left out of training (``data.dev_engines``): dev set
    # for generalisation to an unheard engine
    dev_engine_prompts: list[CorpusUtterance] = field(default_factory=list)


DevEval = Callable[[Any, StudentData, torch.device], dict[str, float]]
"""``dev_eval(student, data, device) -> {name: score}``: development scores a validation adds,
passed in by the caller (``radvoice train student`` passes
:func:`radvoice.eval.student_dev.dev_zero_shot`)."""


def prepare_data(
    student,
    utts: list[CorpusUtterance],
    case_labels: dict[str, np.ndarray],
    loaders: dict[str, Any],
    teacher_bundle,
    teacher_dir: Path,
    cache_dir: Path | None,
    logger: Any,
    ctx: DistContext,
    dev_engines: Sequence[str] = (),
) -> StudentData:
    """Cache encoder features (rank 0 first) and teacher targets for train and val utterances.

    Training utterances of ``dev_engines`` are left out of training; their spoken prompts
    become an engine-level development set (``zs_dev_engine`` in :func:`dev_zero_shot`)."""
    if student.config.train_top_layers:
        raise RadVoiceError("feature caching needs a frozen encoder (train_top_layers = 0)")
    with_ct = [u for u in utts if u.kind != "report" or u.case_id in loaders]
    held = set(dev_engines)
    dev_eng = [u for u in with_ct if u.split == "train" and u.kind == "prompt" and u.engine in held]
    if held and not dev_eng:
        raise RadVoiceError(f"no training prompts spoken by dev engine(s) {sorted(held)}")
    with_ct = [u for u in with_ct if not (u.split == "train" and u.engine in held)]
    tr = select(with_ct, "train", ("report",))
    tq = select(with_ct, "train", QUERY_KINDS)
    vr = select(with_ct, "val", ("report",))
    vq = select(with_ct, "val", QUERY_KINDS)
    feats = FeatureCache(cache_dir, encoder_key(student))
    targets = TeacherTargets(teacher_bundle, cache_dir, teacher_key(teacher_dir))
    everything = tr + tq + vr + vq + dev_eng
    spoken = {u.case_id for u in utts if u.case_id is not None}
    val_prompts = any(u.kind == "prompt" for u in vq)
    dev = sorted(c for c in loaders if c not in spoken and c in case_labels) if val_prompts else []
    timer = Timer()

    def progress(done: int, total: int) -> None:
        if done % 64 < 8 or done == total:
            logger.info(f"encoder features: {done}/{total} ({timer.elapsed():.0f} s)")

    def fill() -> None:
        feats.ensure(student, everything, progress=progress if ctx.is_main else None)
        targets.ensure_ct({c: loaders[c] for c in {u.case_id for u in tr + vr} | set(dev)})
        targets.ensure_text(u.text for u in everything)

    main_rank_first(ctx, fill)
    return StudentData(tr, tq, vr, vq, feats, targets, case_labels, dev, dev_eng)


def metric_banks(
    data: StudentData, sources: dict[str, dict[str, Any]], logger: Any, ctx: DistContext
) -> list[torch.Tensor]:
    """Teacher CT embeddings per domain for the zero-shot metric: the training reports' cases,
    then each extra source (embedded on rank 0 first and cached with the other targets)."""
    ids = sorted({u.case_id for u in data.train_reports})
    banks = [data.targets.ct_of(ids)]
    for name, loaders in sources.items():
        if len(loaders) < 2:
            raise RadVoiceError(f"--metric-data {name}: need at least 2 training-split volumes")
        main_rank_first(ctx, lambda loaders=loaders: data.targets.ensure_ct(loaders))
        banks.append(data.targets.ct_of(sorted(loaders)))
        logger.info(f"zero-shot metric: {len(loaders)} CTs from {name}")
    return banks


def _param_groups(head: nn.Module, extra: list[nn.Parameter], lr: float, wd: float) -> list:
    decay = [p for p in head.parameters() if p.requires_grad and p.ndim >= 2]
    no = [p for p in head.parameters() if p.requires_grad and p.ndim < 2] + extra
    return [
        {"params": decay, "lr": lr, "weight_decay": wd, "base_lr": lr},
        {"params": no, "lr": lr, "weight_decay": 0.0, "base_lr": lr},
    ]


def train_student(
    cfg: RunConfig,
    utts: list[CorpusUtterance],
    case_labels: dict[str, np.ndarray],
    loaders: dict[str, Any],
    teacher_dir: Path,
    out_dir: Path,
    resume: bool = False,
    cache_dir: Path | None = None,
    export_dir: Path | None = None,
    models_root: Path | None = None,
    progress: bool = True,
    stop_after: int | None = None,
    metric_sources: dict[str, dict[str, Any]] | None = None,
    dev_eval: DevEval | None = None,
) -> StudentResult:
    """Train (or resume) a speech student into ``out_dir``; export to ``export_dir``.

    ``stop_after`` ends the run early at that step (checkpointed, as an interruption would).
    ``metric_sources`` (name → case id → volume loader) are extra CT domains, e.g. real
    anatomy, whose teacher embeddings join the zero-shot distillation metric beside the
    training reports' CTs (:func:`ct_metric`: one domain each). ``dev_eval`` adds development
    scores to each validation (:class:`DevEval`). The loop is
    :func:`radvoice.training.loop.run_steps`."""
    from radvoice.nn.clip import load_teacher
    from radvoice.nn.registry import models_dir

    spec = StudentSpec.from_dict(cfg.model)
    run = start_run(cfg.train, out_dir, cfg.name)
    teacher = load_teacher(Path(teacher_dir), with_text=True, device=run.ctx.device)
    student = spec.build(Path(models_root) if models_root else models_dir()).to(run.ctx.device)
    data = prepare_data(
        student, utts, case_labels, loaders, teacher, teacher_dir, cache_dir, run.logger,
        run.ctx, cfg.data.dev_engines,
    )  # fmt: skip
    if len(data.train_reports) < 2:
        raise RadVoiceError("need at least 2 spoken training reports with their CT volumes")
    task = _StudentTask(cfg, spec, student, teacher, data, run, dev_eval)
    resume_run(run, resume, lambda state: _load_trainable(student, task.log_scale, state))
    task.start(metric_sources or {}, Path(teacher_dir))
    final = run_steps(task, run, f"student {cfg.name}", progress, stop_after)
    result = StudentResult(step=final, history=run.history, seconds=run.timer.elapsed())
    if run.ctx.is_main:
        target = Path(export_dir) if export_dir else run.out_dir / "model"
        task.finish(final, result, target, list(metric_sources or {}))
    all_reduce_mean(0.0, run.ctx)
    return result


class _StudentTask:
    """One student step (reports + spoken queries through the head, :func:`student_loss_parts`)
    and its periodic validation and checkpoints, for :func:`run_steps`."""

    def __init__(
        self, cfg: RunConfig, spec: StudentSpec, student, teacher, data: StudentData,
        run: RunState, dev_eval: DevEval | None,
    ) -> None:  # fmt: skip
        self.cfg, self.spec, self.student, self.teacher = cfg, spec, student, teacher
        self.data, self.run, self.dev_eval = data, run, dev_eval
        lc, ts, ctx = spec.loss, cfg.train, run.ctx
        if lc.distills and lc.query_kd_weight > 0 and not data.train_queries:
            run.logger.info("no spoken training queries/prompts: query distillation skipped")
        self.log_scale = nn.Parameter(
            torch.tensor(float(np.log(1.0 / lc.temperature)), device=ctx.device),
            requires_grad=lc.learn_temperature,
        )
        self.fwd: nn.Module = _Head(student, self.log_scale)
        extra = [self.log_scale] if lc.learn_temperature else []
        run.optimizer = torch.optim.AdamW(_param_groups(student, extra, ts.lr, ts.weight_decay))
        self.use_amp = ts.amp and ctx.device.type == "cuda"
        self.local_bs = ts.batch_size // ctx.world_size
        self.qbs = max(lc.query_batch - lc.query_batch % ctx.world_size, 0)
        labels = [data.labels[u.case_id] for u in data.train_reports]
        self.labels = torch.from_numpy(np.stack(labels)).float()
        self.is_question = np.array([u.kind == "query" for u in data.train_queries], dtype=bool)
        self.targets: StudentTargets | None = None

    def start(self, metric_sources: dict[str, dict[str, Any]], teacher_dir: Path) -> None:
        """DDP wrapping (after a resume), ``config.json``, the summary, the teacher targets."""
        run, data, lc, ctx = self.run, self.data, self.spec.loss, self.run.ctx
        self.fwd = wrap_ddp(self.fwd, ctx)
        if ctx.is_main:
            (run.out_dir / "config.json").write_text(
                json.dumps(self.cfg.to_dict(), indent=2) + "\n"
            )
            n_params = sum(p.numel() for p in self.student.trainable_parameters())
            run.logger.info(
                f"student '{self.cfg.name}': {len(data.train_reports)} train reports, "
                f"{len(data.train_queries)} train queries/prompts, {len(data.val_reports)} val "
                f"reports, {n_params / 1e6:.2f} M trainable, device {ctx.device}, world "
                f"{ctx.world_size}, kd {lc.kd_weight}, query kd {lc.query_kd_weight}"
            )
        self.teacher_dir = teacher_dir
        self.targets = student_targets(
            self.teacher, lc, data, metric_sources, teacher_dir, run.logger, ctx
        )
        self.student.train()

    def train_step(self, step: int) -> dict[str, float]:
        ts, ctx, data, lc = self.cfg.train, self.run.ctx, self.data, self.spec.loss
        torch.manual_seed(step_seed(ts.seed, step, ctx.rank))
        idx = batch_indices(len(data.train_reports), ts.batch_size, step, ts.seed)
        local = idx[ctx.rank * self.local_bs : (ctx.rank + 1) * self.local_bs]
        reps = [data.train_reports[i] for i in local]
        qs = self._queries(step)
        chunks = augment_chunks(data.features.chunks(reps + qs, ctx.device), self.spec.augment)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
            emb = self.fwd(chunks).float()
        labels = self.labels[torch.from_numpy(idx)].to(ctx.device)
        scale = self.log_scale.exp().clamp(max=100.0)
        assert self.targets is not None
        parts = student_loss_parts(lc, emb, reps, qs, labels, scale, data, self.targets, ctx)
        opt = self.run.optimizer
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        if ts.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.student.trainable_parameters(), ts.grad_clip)
        opt.step()
        record = _global_parts(parts, ctx)
        record.update(step=step + 1, lr=opt.param_groups[0]["lr"], scale=float(scale.detach()))
        return record

    def _queries(self, step: int) -> list[CorpusUtterance]:
        """This rank's spoken queries/prompts of ``step`` (none when not distilling them)."""
        lc, ts, ctx, data = self.spec.loss, self.cfg.train, self.run.ctx, self.data
        local_q = self.qbs // ctx.world_size
        if not (lc.distills and lc.query_kd_weight > 0 and data.train_queries and local_q > 0):
            return []
        qidx = query_batch_indices(self.is_question, self.qbs, step, ts.seed, lc.question_share)
        return [data.train_queries[i] for i in qidx[ctx.rank * local_q : (ctx.rank + 1) * local_q]]

    def evaluate(self, step: int) -> None:
        val = validate(self.student, self.data, self.run.ctx.device, self.dev_eval)
        self.run.logger.info(f"val step {step}: {_fmt(val)}")
        self.student.train()

    def checkpoint(self, step: int, history: list[dict[str, float]]) -> None:
        path = self.run.out_dir / CHECKPOINT_NAME
        _save(path, self.student, self.log_scale, self.run.optimizer, step, self.cfg, history)

    def finish(
        self, final: int, result: StudentResult, target: Path, metric_data: list[str]
    ) -> None:
        """Last checkpoint, the final validation and the export (pinned to its teacher)."""
        from radvoice.nn.speech_student import teacher_weights_sha256

        run = self.run
        self.checkpoint(final, run.history)
        result.val = validate(self.student, self.data, run.ctx.device, self.dev_eval)
        run.logger.info(f"done: step {final}, {run.timer.elapsed():.0f} s; val {_fmt(result.val)}")
        self.student.eval()
        sha = teacher_weights_sha256(self.teacher_dir)
        self.student.save(target, teacher_sha256=sha)
        _write_training_info(target, self.cfg, final, result, self.teacher_dir, metric_data)
        result.model_dir = target
        run.logger.info(f"exported {target}")


@dataclass
class StudentTargets:
    """Fixed teacher-side tensors the student's losses compare against."""

    query_protos: torch.Tensor | None  # (18, D) the teacher's spoken-query prototypes
    prompt_protos: torch.Tensor  # (36, D) its zero-shot prompt embeddings
    zs_metric: torch.Tensor | None  # the CT metric of the zero-shot distillation


def student_targets(
    teacher, lc: StudentLoss, data: StudentData, metric_sources: dict[str, dict[str, Any]],
    teacher_dir: Path, logger: Any, ctx: DistContext,
) -> StudentTargets:  # fmt: skip
    protos = None
    if lc.query_proto_weight > 0:
        if teacher.query_prototypes is None:
            raise RadVoiceError(f"{teacher_dir}: the teacher has no query prototypes")
        protos = F.normalize(teacher.query_prototypes.float(), dim=-1).to(ctx.device)
    prompts = teacher.prompts.float().reshape(-1, teacher.prompts.shape[-1])
    zs_metric = None
    if lc.zeroshot_kd_weight > 0:
        banks = metric_banks(data, metric_sources, logger, ctx)
        zs_metric = ct_metric(banks, teacher.prompts, lc.zeroshot_metric_caps).to(ctx.device)
    return StudentTargets(protos, F.normalize(prompts, dim=-1).to(ctx.device), zs_metric)


def student_loss_parts(
    lc: StudentLoss, emb: torch.Tensor, reps: list[CorpusUtterance], qs: list[CorpusUtterance],
    labels: torch.Tensor, scale: torch.Tensor, data: StudentData, tg: StudentTargets,
    ctx: DistContext,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """The student's loss (``"loss"``) and its weighted parts: InfoNCE against the teacher's CT
    embeddings on the global batch, distillation to the teacher's text of reports and spoken
    queries, prototype distillation and the zero-shot distillation of spoken prompts."""
    s_rep, s_q = emb[: len(reps)], emb[len(reps) :]
    ct = data.targets.ct_of([u.case_id for u in reps]).to(ctx.device)
    s_all, ct_all = gather_with_grad(s_rep, ctx), gather_with_grad(ct, ctx)
    ignore = false_negative_mask(labels) if lc.fn_guard else None
    parts = {"contrastive": info_nce(s_all, ct_all, scale, ignore)}
    loss = lc.contrastive_weight * parts["contrastive"]
    if lc.kd_weight > 0:
        t_rep = data.targets.text_of([u.text for u in reps]).to(ctx.device)
        parts["kd"] = distillation_loss(s_rep, t_rep)
        loss = loss + lc.kd_weight * parts["kd"]
    if qs:
        t_q = data.targets.text_of([u.text for u in qs]).to(ctx.device)
        parts["query_kd"] = distillation_loss(s_q, t_q)
        loss = loss + lc.query_kd_weight * parts["query_kd"]
        is_prompt = torch.tensor([u.kind == "prompt" for u in qs], device=ctx.device).float()
        if lc.query_proto_weight > 0 and tg.query_protos is not None:
            w = 1.0 - is_prompt if lc.prompt_proto_weight > 0 else None
            parts["query_proto"] = prototype_kd(s_q, t_q, tg.query_protos, lc.proto_temperature, w)
            loss = loss + lc.query_proto_weight * parts["query_proto"]
        if lc.prompt_proto_weight > 0:
            parts["prompt_proto"] = prototype_kd(
                s_q, t_q, tg.prompt_protos, lc.proto_temperature, is_prompt
            )
            loss = loss + lc.prompt_proto_weight * parts["prompt_proto"]
        if tg.zs_metric is not None:
            parts["zeroshot_kd"] = projected_kd(s_q, t_q, tg.zs_metric, is_prompt)
            loss = loss + lc.zeroshot_kd_weight * parts["zeroshot_kd"]
    parts["loss"] = loss
    return parts


TRAINING_INFO = "training.json"
"""Training provenance beside a model's weights (not part of the registered files)."""


def read_training_info(folder: Path) -> dict[str, Any] | None:
    """A model folder's ``training.json``; None when missing or unreadable."""
    path = Path(folder) / TRAINING_INFO
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, json.JSONDecodeError):
        return None


def write_training_info(folder: Path, info: dict[str, Any]) -> None:
    (Path(folder) / TRAINING_INFO).write_text(json.dumps(info, indent=2) + "\n")


def _write_training_info(
    target: Path, cfg: RunConfig, step: int, result, teacher_dir, metric_data: list[str]
) -> None:
    """Training provenance beside the weights (not part of the registered files)."""
    info = {
        "run": cfg.to_dict(),
        "steps": step,
        "seconds": round(result.seconds, 1),
        "val": result.val,
        "teacher": str(teacher_dir),
        "metric_data": metric_data,
    }
    write_training_info(target, info)


@torch.no_grad()
def validate(
    student, data: StudentData, device: torch.device, dev_eval: DevEval | None = None
) -> dict[str, float]:
    """Val metrics: report→CT recall@1/@5, cosine to the teacher text, query top-1 label, and
    what ``dev_eval`` adds (the spoken zero-shot development score,
    :func:`radvoice.eval.student_dev.dev_zero_shot`)."""
    from radvoice.metrics import recall_at_k
    from radvoice.nn.zeroshot import build_query_prototypes

    student.eval()
    out: dict[str, float] = {}
    if data.val_reports:
        emb = embed_cached(student, data.features, data.val_reports, device)
        ct = data.targets.ct_of([u.case_id for u in data.val_reports])
        txt = data.targets.text_of([u.text for u in data.val_reports])
        rec = recall_at_k((emb @ ct.T).numpy(), (1, 5))
        out["r2v_R@1"], out["r2v_R@5"] = rec[1], rec[5]
        out["cos_text"] = float((emb * txt).sum(-1).mean())
    queries = [u for u in data.val_queries if u.kind == "query" and u.label is not None]
    if queries:
        bundle = data.targets.bundle
        protos = bundle.query_prototypes
        if protos is None:
            protos = build_query_prototypes(bundle.clip.encode_text).cpu()
        emb = embed_cached(student, data.features, queries, device)
        pred = (emb @ protos.float().T).argmax(-1).numpy()
        truth = np.array([PATHOLOGIES.index(u.label) for u in queries])
        out["query_top1"] = float(np.mean(pred == truth))
    if dev_eval is not None:
        out.update(dev_eval(student, data, device))
    return out


@torch.no_grad()
def embed_cached(
    student, feats: FeatureCache, utts: list[CorpusUtterance], device: torch.device, batch: int = 32
) -> torch.Tensor:
    """Student embeddings ``(N, D)`` of cached utterances (CPU float32)."""
    out = []
    for s in range(0, len(utts), batch):
        out.append(student.forward_chunks(feats.chunks(utts[s : s + batch], device)).float().cpu())
    return torch.cat(out)


def _fmt(d: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in d.items())


def _global_parts(parts: dict[str, torch.Tensor], ctx: DistContext) -> dict[str, float]:
    """Loss terms over the global batch, for the log and history.

    The contrastive term is already global on every rank; the distillation terms are means over
    each rank's equal slice, so their mean over ranks is the global-batch value."""
    vals = torch.stack([v.detach().float() for v in parts.values()])
    if ctx.enabled:
        torch.distributed.all_reduce(vals)
        vals = vals / ctx.world_size
    return dict(zip(parts, vals.tolist(), strict=True))


def _trainable_state(student, log_scale: torch.Tensor) -> dict[str, torch.Tensor]:
    names = {id(p) for p in student.trainable_parameters()}
    state = {k: v.detach().cpu() for k, v in student.named_parameters() if id(v) in names}
    state["_log_scale"] = log_scale.detach().cpu()
    return state


def _load_trainable(student, log_scale: nn.Parameter, state: dict[str, torch.Tensor]) -> None:
    params = dict(student.named_parameters())
    want = {k for k, p in params.items() if p.requires_grad}
    if set(state) - {"_log_scale"} != want:
        raise CheckpointError("checkpoint does not fit this student's trainable parameters")
    with torch.no_grad():
        for k in want:
            params[k].copy_(state[k])
        log_scale.copy_(state["_log_scale"])


def _save(path, student, log_scale, optimizer, step, cfg, history) -> None:
    save_checkpoint(
        path,
        {
            "step": step,
            "model": _trainable_state(student, log_scale),
            "optimizer": optimizer.state_dict(),
            "config": cfg.to_dict(),
            "history": history,
        },
    )


def load_student_data(spec: str) -> tuple[list[CorpusUtterance], dict[str, np.ndarray], dict]:
    """``--data``: a student corpus folder, or a CT-RATE folder holding Speech-RATE WAVs.

    Returns utterances, labels per case id and a volume loader per case id.
    """
    from radvoice.training.student_data import StudentDataError, corpus_utterances

    root = Path(spec).expanduser()
    if not root.is_dir():
        raise StudentDataError(f"data folder not found: {spec}")
    if (root / "manifest.jsonl").is_file():
        from radvoice.data.corpus import case_records

        utts = corpus_utterances(root)
        recs = {r.case_id: r for r in case_records(root)}
        labels = {c: r.labels for c, r in recs.items()}
        loaders = {c: (lambda p=r.volume_path: _read(p)) for c, r in recs.items()}
        return utts, labels, loaders
    from radvoice.training.sources import ctrate_records
    from radvoice.training.student_data import ctrate_utterances

    recs = ctrate_records(root)
    from radvoice.training.cases import assign_splits

    assign_splits(recs, 0.1, 0)
    utts = ctrate_utterances(
        root, {r.case_id: r.report for r in recs}, {r.case_id: r.split for r in recs}
    )
    return utts, {r.case_id: r.labels for r in recs}, {r.case_id: r.load for r in recs}


def _read(path: Path):
    from radvoice.imaging import read_volume

    return read_volume(path)


def train_student_cli(
    cfg: RunConfig,
    data: str,
    out: Path,
    resume: bool,
    teacher: str | None,
    export: Path | None,
    metric_data: Sequence[str] = (),
    dev_eval: DevEval | None = None,
) -> StudentResult:
    """``radvoice train student``: the entry point :mod:`radvoice.cli.train` calls.

    Encoder features and teacher targets are cached in ``DATA/cache`` (shared by the runs with
    and without distillation and by ``radvoice eval``)."""
    from radvoice.nn.registry import models_dir

    if cfg.kind != "student":
        raise RadVoiceError(f"config {cfg.name!r} is a {cfg.kind} config, not a student one")
    teacher_dir = Path(teacher) if teacher else models_dir() / "teacher"
    if not teacher_dir.is_dir():
        raise RadVoiceError(f"teacher model not found at {teacher_dir} (train the teacher first)")
    utts, labels, loaders = load_student_data(data)
    extra = {spec: metric_loaders(spec, cfg, set(loaders)) for spec in metric_data}
    return train_student(
        cfg,
        utts,
        labels,
        loaders,
        teacher_dir,
        Path(out),
        resume=resume,
        cache_dir=Path(data).expanduser() / "cache",
        export_dir=export,
        progress=sys.stderr.isatty(),
        metric_sources=extra,
        dev_eval=dev_eval,
    )


def metric_loaders(spec: str, cfg: RunConfig, taken: set[str]) -> dict[str, Any]:
    """``--metric-data SPEC``: volume loaders of the training split of a CT source (any
    ``--data`` form the teacher takes); its case ids must not be the student corpus's."""
    from radvoice.training.sources import load_records

    recs = [r for r in load_records(spec, cfg.data, seed=cfg.train.seed) if r.split == "train"]
    clash = sorted({r.case_id for r in recs} & taken)
    if clash:
        raise RadVoiceError(
            f"--metric-data {spec}: case id {clash[0]} is also in the student corpus; "
            "a metric source needs its own case ids"
        )
    return {r.case_id: r.load for r in recs}
