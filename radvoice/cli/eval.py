"""``radvoice eval [--json] [--out DIR]``: text teacher / speech no-KD / speech KD / ASR cascade
× (training voices, held-out speakers, held-out engines, noise 10 dB SNR, lung2), with gap
recovery; writes ``DIR/eval.md`` with ROC curves (PNG) and ``DIR/eval.json``."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DATA = "runs/corpus/student_s1"
DEFAULT_EVAL_DATA = "runs/corpus/eval_s2"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate the shipped teacher and speech students")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--out", default="runs/eval", help="folder for eval.md, eval.json, PNG")
    p.add_argument("--models", help="models folder (default: the repository's models/)")
    p.add_argument("--teacher", help="teacher folder (default MODELS/teacher)")
    p.add_argument("--data", default=DEFAULT_DATA, help="student corpus with spoken test items")
    p.add_argument("--eval-data", default=DEFAULT_EVAL_DATA, help="held-out CT corpus")
    p.add_argument("--cache", help="cache folder (default DATA/cache, shared with training)")
    p.add_argument("--real-ct", help="folder holding lung2_image.nrrd (default ../shared/data/ct)")
    p.add_argument("--lung2-cases", type=int, default=96, help="lung2 cases with findings")
    p.add_argument("--no-cascade", action="store_true", help="skip the ASR cascade rows")
    p.add_argument(
        "--cascade-size",
        choices=("tiny.en", "base"),
        default="tiny.en",
        help="Whisper size the ASR cascade transcribes with (transcripts are cached per size)",
    )
    p.add_argument(
        "--conditions", help="comma-separated subset of seen,unseen_speaker,unseen_engine,..."
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument(
        "--ct",
        action="store_true",
        help="the CT side only (real anatomy, synthetic test, localisation, out-of-domain): "
        "needs no speech corpus; writes OUT/ct_eval.md and OUT/ct_eval.json",
    )
    p.add_argument(
        "--ct-compare",
        metavar="NAME=MODELS_DIR",
        action="append",
        default=[],
        help="with --ct: also measure the teacher of another models folder, side by side",
    )
    p.add_argument("--ct-test-cases", type=int, default=300, help="with --ct: generated test cases")
    p.set_defaults(func=run)


def _real_ct(arg: str | None) -> Path | None:
    if arg:
        return Path(arg)
    here = Path(__file__).resolve().parents[2]
    for cand in (here.parent / "shared" / "data" / "ct", Path.cwd().parent / "shared/data/ct"):
        if (cand / "lung2_image.nrrd").is_file():
            return cand
    return None


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    import torch

    from radvoice.eval.eval_sets import CONDITIONS, EvalDataError
    from radvoice.eval.report import json_safe, text_table, write_report
    from radvoice.eval.runner import EvalSettings, build_inputs
    from radvoice.eval.zeroshot_eval import evaluate
    from radvoice.nn.registry import models_dir

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    conditions = CONDITIONS
    if args.conditions:
        conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
        bad = [c for c in conditions if c not in CONDITIONS]
        if bad:
            raise EvalDataError(
                f"unknown condition {bad[0]!r} (choose from {', '.join(CONDITIONS)})"
            )
    if args.lung2_cases < 2:
        raise EvalDataError("--lung2-cases must be at least 2")
    out = Path(args.out)
    if args.ct:
        return _run_ct(args, out)
    settings = EvalSettings(
        models=Path(args.models) if args.models else models_dir(),
        data=Path(args.data),
        teacher=Path(args.teacher) if args.teacher else None,
        eval_data=Path(args.eval_data),
        cache=Path(args.cache) if args.cache else Path(args.data) / "cache",
        real_ct=_real_ct(args.real_ct),
        lung2_cases=args.lung2_cases,
        cascade=not args.no_cascade,
        cascade_size=args.cascade_size,
        conditions=conditions,
    )
    inputs = build_inputs(settings)
    result = evaluate(inputs, progress=lambda m: logging.info(f"eval: {m}"))
    command = "radvoice eval " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["eval"] else [])
    md = write_report(result, out, command.strip())
    if args.json:
        print(json.dumps(json_safe(result.to_dict()), indent=1))
    else:
        print(text_table(result), end="")
        print(f"report: {md}")
    return 0


def _run_ct(args: argparse.Namespace, out: Path) -> int:
    import json

    from radvoice.eval.ct_eval import ct_markdown, run_ct_eval
    from radvoice.eval.eval_sets import EvalDataError
    from radvoice.eval.report import json_safe
    from radvoice.nn.pipeline import RadVoiceModels
    from radvoice.nn.registry import models_dir

    teachers = {"shipped": RadVoiceModels(root=args.models or models_dir())}
    for item in args.ct_compare:
        name, sep, folder = item.partition("=")
        if not sep or not Path(folder).is_dir():
            raise EvalDataError(f"--ct-compare wants NAME=MODELS_DIR, got {item!r}")
        teachers[name] = RadVoiceModels(root=folder)
    cache = Path(args.cache) if args.cache else Path("runs/eval_ct_cache")
    result = run_ct_eval(
        teachers, cache, _real_ct(args.real_ct), args.ct_test_cases, args.lung2_cases
    )
    out.mkdir(parents=True, exist_ok=True)
    table = ct_markdown(result)
    (out / "ct_eval.json").write_text(json.dumps(json_safe(result), indent=1) + "\n")
    (out / "ct_eval.md").write_text("# CT side\n\n" + table)
    print(json.dumps(json_safe(result), indent=1) if args.json else table, end="")
    return 0
