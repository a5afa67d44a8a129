"""``radvoice ensemble STUDENT_DIR STUDENT_DIR... --out DIR [--data CORPUS] [--teacher DIR]``."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ensemble",
        help="average speech students trained with different seeds into one student",
    )
    p.add_argument("members", nargs="+", help="exported student folders (e.g. runs/x/model)")
    p.add_argument("--out", required=True, help="folder for the ensemble student")
    p.add_argument(
        "--data", help="student corpus to validate the ensemble on (its val split, zs_dev)"
    )
    p.add_argument("--teacher", help="teacher folder for --data (default models/teacher)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from radvoice.eval.student_dev import dev_zero_shot
    from radvoice.training.ensemble import build_ensemble

    info = build_ensemble(
        [Path(m) for m in args.members],
        Path(args.out),
        data=args.data,
        teacher_dir=Path(args.teacher) if args.teacher else None,
        dev_eval=dev_zero_shot,
    )
    print(f"ensemble of {info['members']} heads written to {args.out}")
    if "val" in info:
        print(json.dumps(info["val"], indent=2))
    return 0
