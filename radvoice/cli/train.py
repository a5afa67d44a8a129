"""``radvoice train teacher|student --config CFG.json --data DIR [--out DIR] [--resume]``;
``radvoice train question --student DIR --data CORPUS --out DIR`` (the question head).
``radvoice train commands --student DIR --data COMMAND_CORPUS --out DIR`` (the command head).

The teacher takes ``--data`` more than once to mix sources (e.g. ``--data synthetic --data
runs/corpus/lung1_s5``: phantom cases plus cases on real anatomy); the student takes one, and
``--metric-data`` for CT-only sources that shape its zero-shot distillation metric.

Runs unchanged under ``torchrun --nproc_per_node N -m radvoice.cli.main train ...`` (DDP).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the CT-text teacher, the speech student, its question head or command head",
    )
    p.add_argument(
        "what",
        choices=("teacher", "student", "question", "commands", "ct"),
        help="which model to train (question: a trained student's question-vs-statement head; "
        "commands: the spoken viewer-command head beside a trained student; "
        "ct: the grounded CT encoder against a frozen teacher's text space)",
    )
    p.add_argument(
        "--config", help="config JSON (or a bundled name, e.g. teacher_tiny); not for question"
    )
    p.add_argument(
        "--data",
        required=True,
        action="append",
        help="corpus folder, CT-RATE folder, synthetic:N or toy:N (teacher: repeat to mix)",
    )
    p.add_argument("--out", help="run folder (default runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--export", help="folder for the exported model (default OUT/model)")
    p.add_argument("--cache", help="grid/text cache folder (default OUT/cache)")
    p.add_argument(
        "--teacher", help="student only: the teacher model folder (default models/teacher)"
    )
    p.add_argument(
        "--metric-data",
        action="append",
        default=[],
        help="student only: a CT source (as --data) whose training-split volumes join the "
        "zero-shot distillation metric as their own domain, e.g. real anatomy (repeatable)",
    )
    p.add_argument(
        "--cases", type=int, default=0, help="ct only: generate cases 0..N-1 into --data first"
    )
    p.add_argument(
        "--background",
        action="append",
        default=[],
        metavar="PATH",
        help="ct only: real chest CTs to insert findings into (default: lung1 when found)",
    )
    p.add_argument("--workers", type=int, default=1, help="ct only: generator processes")
    p.add_argument("--student", help="question/commands only: the trained student folder")
    p.add_argument("--max-steps", type=int, help="override train.max_steps")
    p.add_argument("--threads", type=int, help="override train.num_threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from radvoice.cli.main import UserError
    from radvoice.training.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.what == "question":
        return _train_question(args)
    if args.what == "ct":
        return _train_ct(args)
    if args.what == "commands":
        return _train_commands(args)
    if not args.config:
        raise UserError(f"train {args.what} needs --config")
    cfg = load_config(args.config)
    if args.max_steps is not None:
        cfg.train.max_steps = args.max_steps
    if args.threads is not None:
        cfg.train.num_threads = args.threads
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    cache = Path(args.cache) if args.cache else out / "cache"
    export = Path(args.export) if args.export else None
    if args.what == "teacher":
        from radvoice.training.sources import load_records
        from radvoice.training.teacher import train_teacher

        on_volume = None
        synthetic = [d for d in args.data if d.startswith("synthetic")]
        if cfg.data.cache_grid and synthetic:
            from radvoice.nn.clip import ClipDims
            from radvoice.training.cases import GridCache

            grid = ClipDims.from_dict(cfg.model).grid
            grids = GridCache(cache, grid)
            if cfg.data.workers > 1:
                from radvoice.training.prefill import prefill_synthetic
                from radvoice.training.sources import _count

                spec = synthetic[0]
                n = _count(spec, "synthetic:") if ":" in spec else cfg.data.synthetic_cases
                prefill_synthetic(
                    n, cfg.data.synthetic_seed, cache, grid, cfg.data.workers, not args.no_progress
                )
            on_volume = lambda rec, vol: grids.put(rec.case_id, vol)  # noqa: E731
        if args.threads is not None:
            import torch

            torch.set_num_threads(args.threads)
        records = load_records(
            args.data, cfg.data, seed=cfg.train.seed, on_volume=on_volume, cache_dir=cache
        )
        result = train_teacher(
            cfg,
            records,
            out,
            resume=args.resume,
            cache_dir=cache,
            progress=not args.no_progress,
            export_dir=export,
        )
    else:
        from radvoice.eval.student_dev import dev_zero_shot
        from radvoice.training.student import train_student_cli

        if len(args.data) != 1:
            raise UserError("train student takes one --data (a student corpus)")
        result = train_student_cli(
            cfg,
            args.data[0],
            out,
            args.resume,
            args.teacher,
            export,
            args.metric_data,
            dev_eval=dev_zero_shot,
        )
    if result.model_dir is not None:
        print(f"model written to {result.model_dir} (step {result.step})")
    return 0


def _train_question(args: argparse.Namespace) -> int:
    from radvoice.training.question_head import train_question_cli

    return _train_head(args, "question", train_question_cli, 600, "student with its question head")


def _train_head(args: argparse.Namespace, what: str, train_cli, steps: int, written: str) -> int:
    """``train question|commands``: a head beside a trained student, its report printed."""
    import json

    from radvoice.cli.main import UserError

    if not args.student or not args.out or len(args.data) != 1:
        raise UserError(f"train {what} needs --student DIR, one --data CORPUS and --out DIR")
    if not Path(args.student).is_dir():
        raise UserError(f"student folder not found: {args.student}")
    steps = args.max_steps if args.max_steps is not None else steps
    report = train_cli(args.student, args.data[0], args.out, steps)
    print(f"{written} written to {args.out}")
    print(json.dumps(report, indent=2))
    return 0


def _train_ct(args: argparse.Namespace) -> int:
    """Generate (resumable), train (resumes from OUT/state.pt), export to OUT/model."""
    from radvoice.cli.data import _user_backgrounds
    from radvoice.cli.main import UserError
    from radvoice.training.grounded import GroundedRun
    from radvoice.training.grounded_data import CaseMix, prefill
    from radvoice.training.grounded_export import export_grounded
    from radvoice.training.grounded_train import train

    if len(args.data) != 1:
        raise UserError("train ct takes one --data folder (generated cases land there)")
    config = Path(args.config or "ct_grounded")
    if not config.is_file():
        config = Path(__file__).resolve().parents[1] / "configs" / f"{config}.json"
    if not config.is_file():
        raise UserError(f"config not found: {args.config}")
    run = GroundedRun.from_json(config)
    if args.max_steps is not None:
        run.max_steps = args.max_steps
    if args.threads is not None:
        run.num_threads = args.threads
    data = Path(args.data[0])
    out = Path(args.out) if args.out else Path("runs") / run.name
    teacher = Path(args.teacher) if args.teacher else Path("models/teacher")
    if args.cases:
        backgrounds = _user_backgrounds(args.background) or _default_backgrounds()
        mix = CaseMix(backgrounds=backgrounds)
        prefill(data, args.cases, run.grid, tuple(run.model.stem_stride), mix, args.workers)
    state = train(run, data, out, teacher)
    summary = export_grounded(state, run, data, teacher, Path(args.export or out / "model"))
    print(f"exported {args.export or out / 'model'}: {summary}")
    return 0


def _default_backgrounds() -> tuple[str, ...]:
    """lung1 when ``../shared/data/ct`` is there (the data CLI's lookup), else none."""
    from radvoice.cli.data import _real_background_path
    from radvoice.cli.main import UserError

    try:
        return (str(_real_background_path()),)
    except UserError:
        return ()


def _train_commands(args: argparse.Namespace) -> int:
    from radvoice.eval.commands_eval import train_commands_cli

    return _train_head(args, "commands", train_commands_cli, 1500, "command head")
