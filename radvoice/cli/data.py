"""``radvoice data ...``: make the synthetic CT corpus, its spoken reports, contact sheets, stats."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="make training data (synthetic chest CT corpus)")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    synth = sub.add_parser("synth", help="generate N synthetic cases (+ spoken reports) into DIR")
    synth.add_argument("--out", required=True, help="output folder (resumable)")
    synth.add_argument("--n", type=int, required=True, help="number of cases")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=1)
    synth.add_argument(
        "--resolution",
        choices=("model", "full"),
        default="model",
        help="model: fixed training grid; full: 512x512 clinical grids",
    )
    synth.add_argument("--shape", default="64,128,128", help="model grid nz,ny,nx")
    synth.add_argument("--spacing", default="2.8,2.8,5.0", help="model grid sx,sy,sz (mm)")
    synth.add_argument(
        "--real-backgrounds",
        action="store_true",
        help="insert findings into the real training CT (../shared/data/ct/lung1)",
    )
    synth.add_argument(
        "--background",
        action="append",
        default=[],
        metavar="PATH",
        help="a normal chest CT of your own (NRRD, NIfTI, MHA; repeatable): findings are "
        "inserted into it, its lungs, heart, aorta and airways found from HU automatically",
    )
    synth.add_argument(
        "--voices",
        default=None,
        help="also speak reports and queries: 'all' or engines like espeak-ng,flite,piper",
    )
    synth.set_defaults(func=_synth)
    stats = sub.add_parser(
        "stats", help="label prevalence/co-occurrence of N sampled cases (markdown)"
    )
    stats.add_argument("--n", type=int, default=2000)
    stats.add_argument("--seed", type=int, default=0)
    stats.add_argument("--out", default=None, help="write the markdown here")
    stats.set_defaults(func=_stats)
    sheets = sub.add_parser("sheets", help="contact sheet PNGs per finding")
    sheets.add_argument("--out", default="docs/contact_sheets")
    sheets.add_argument("--seed", type=int, default=7)
    sheets.add_argument(
        "--labels", default=None, help="comma-separated labels (default: all + Normal)"
    )
    sheets.set_defaults(func=_sheets)
    data.set_defaults(func=lambda args: data.print_help() or 0)


def _triple(text: str, kind, what: str):
    from radvoice.cli.main import UserError

    try:
        vals = tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--{what} needs three comma-separated numbers, got {text!r}") from None
    if len(vals) != 3 or min(vals) <= 0:
        raise UserError(f"--{what} needs three positive comma-separated numbers, got {text!r}")
    return vals


def _real_background_path() -> Path:
    from radvoice.cli.main import UserError

    here = Path(__file__).resolve().parents[2]
    for cand in (
        here.parent / "shared" / "data" / "ct",
        Path.cwd().parent / "shared" / "data" / "ct",
    ):
        if (cand / "lung1_image.nrrd").exists():
            return (cand / "lung1_image.nrrd").resolve()
    raise UserError("--real-backgrounds needs ../shared/data/ct/lung1_image.nrrd (not found)")


def _user_backgrounds(paths: list[str]) -> tuple[str, ...]:
    """Check each ``--background`` scan once (readable, a body and lungs found) → paths."""
    from radvoice.cli.main import UserError
    from radvoice.data.phantom.real_background import HELDOUT_NAMES, BackgroundError, source_anatomy

    out = []
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise UserError(f"--background {p}: no such file (a volume file, not a folder)")
        if any(path.name.startswith(h) for h in HELDOUT_NAMES):
            raise UserError(f"--background {p}: the held-out evaluation case never enters training")
        try:
            source_anatomy(str(path))
        except BackgroundError as err:
            raise UserError(f"--background {p}: {err}") from None
        out.append(str(path))
    return tuple(out)


def _synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from radvoice.cli.main import UserError
    from radvoice.data.corpus import CorpusSettings, build_corpus, disk_usage, load_case_json
    from radvoice.labels import PATHOLOGIES

    if args.n < 0:
        raise UserError("--n must be >= 0")
    if args.workers < 1:
        raise UserError("--workers must be >= 1")
    speech = None
    if args.voices:
        try:
            from radvoice.data import speech
        except ImportError as err:
            raise UserError(
                f"--voices is not available: the speech module cannot be imported ({err})"
            ) from None
        try:
            plan = speech.plan_for_engines(args.voices, args.seed)
        except ValueError as err:
            raise UserError(f"--voices {args.voices!r}: {err}") from None
    settings = CorpusSettings(
        seed=args.seed,
        resolution=args.resolution,
        shape=_triple(args.shape, int, "shape"),
        spacing=_triple(args.spacing, float, "spacing"),
        real_background=str(_real_background_path()) if args.real_backgrounds else None,
        backgrounds=_user_backgrounds(args.background),
    )
    out = Path(args.out)
    t0 = time.perf_counter()
    bar = tqdm(total=args.n, desc="cases", unit="case")

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    rows = build_corpus(out, args.n, settings, workers=args.workers, progress=progress)
    bar.close()
    elapsed = time.perf_counter() - t0
    rows = [r for r in rows if r["index"] < args.n]
    counts = [0] * len(PATHOLOGIES)
    for r in rows:
        counts = [c + v for c, v in zip(counts, r["labels"], strict=True)]
    normal = sum(1 for r in rows if not any(r["labels"]))
    print(f"{len(rows)} cases in {out} ({elapsed:.1f} s this run); normal: {normal}")
    width = max(len(p) for p in PATHOLOGIES)
    for name, c in zip(PATHOLOGIES, counts, strict=True):
        pct = 100.0 * c / max(1, len(rows))
        print(f"  {name:<{width}}  {c:6d}  {pct:5.1f}%")
    if speech is not None:
        items = []
        for r in rows:
            doc = load_case_json(out, r)
            rep = doc["report"]
            items.append(
                speech.SpeechItem(
                    id=f"{r['case_id']}_report",
                    text=f"{rep['findings']} {rep['impression']}",
                    kind="report",
                    group=r["case_id"],
                )
            )
            for qi, q in enumerate(doc["queries"]):
                items.append(
                    speech.SpeechItem(
                        id=f"{r['case_id']}_q{qi}", text=q["text"], kind="query", group=r["case_id"]
                    )
                )
        sbar = tqdm(desc="speech", unit="utt")

        def sprog(done: int, total: int) -> None:
            sbar.total = total
            sbar.n = done
            sbar.refresh()

        srows = speech.synthesize_corpus_audio(
            items, out / "speech", plan, seed=args.seed, workers=args.workers, progress=sprog
        )
        sbar.close()
        summary = speech.summarize_speech(srows)
        hours = sum(s["hours"] for s in summary["splits"].values())
        print(f"speech: {len(srows)} utterances, {hours * 60:.1f} min")
        print(json.dumps(summary, indent=1))
    print(f"disk use: {disk_usage(out) / 1e6:.1f} MB")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from radvoice.data.label_stats import label_statistics_markdown

    text = label_statistics_markdown(args.n, args.seed)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _sheets(args: argparse.Namespace) -> int:
    from radvoice.cli.main import UserError
    from radvoice.data.contact_sheet import render_all
    from radvoice.labels import PATHOLOGIES

    labels = None
    if args.labels:
        labels = [s.strip() for s in args.labels.split(",") if s.strip()]
        bad = [lab for lab in labels if lab not in PATHOLOGIES and lab != "Normal"]
        if bad:
            raise UserError(f"unknown label {bad[0]!r}")
    for path in render_all(Path(args.out), args.seed, labels):
        print(path)
    return 0
