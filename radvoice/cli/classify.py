"""``radvoice classify VOLUME [VOLUME...] [--audio WAV | --text TEXT]... [--json] [--heatmap DIR]``.

Prints all 18 zero-shot probabilities and the per-class thresholds of the shipped teacher, and
``domain``: whether the volume is a chest CT the model can speak about (``chest_ct``,
``in_distribution`` in [0, 1], ``message``); outside that domain no finding is called
(``called`` is empty) and the app says so instead of showing bars. Several volumes load the
models once and print one JSON object per line (JSON lines); a volume that cannot be read
gives its one-line error as ``{"volume": PATH, "error": ...}`` and the others go on (exit 2
if any failed). ``--heatmap DIR`` writes, per asked pathology (every called finding when
nothing is asked), a NIfTI heat map in the volume's own grid. Each
``--audio`` / ``--text`` query (in the order given) is matched to the pathology it asks about
(``label``, ``label_score``) and answered with that pathology's ``probability``. One query gives
``query``; several give ``queries`` (a list). Models load once. Any WAV rate/channel count is
accepted; unreadable input exits 2 with one line.
"""

from __future__ import annotations

import argparse
from typing import Any


class _QueryAction(argparse.Action):
    """Keep ``--audio`` and ``--text`` in one list, in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        items = list(getattr(namespace, "queries", None) or [])
        items.append((self.dest, values))
        namespace.queries = items


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "classify", help="zero-shot findings of a CT, optionally answering spoken/typed questions"
    )
    p.add_argument(
        "volumes",
        nargs="+",
        metavar="VOLUME",
        help="volume files (NIfTI, NRRD, MHA, ...) or DICOM folders; several give JSON lines",
    )
    p.add_argument(
        "--audio",
        action=_QueryAction,
        dest="audio",
        metavar="WAV",
        help="a spoken question (any sample rate / channels); repeatable",
    )
    p.add_argument(
        "--text",
        action=_QueryAction,
        dest="text",
        metavar="TEXT",
        help="a typed question; repeatable",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--heatmap",
        metavar="DIR",
        help="write a NIfTI heat map per asked (or called) pathology into DIR",
    )
    p.add_argument("--models", help="models folder (default: the repository's models/)")
    p.add_argument("--series", help="DICOM series UID when the folder holds several")
    p.set_defaults(func=run, queries=None)


def answer(models: Any, probabilities: dict[str, float], kind: str, value: str) -> dict[str, Any]:
    """Embed one query (audio path or text), match it to a pathology, attach its probability."""
    if kind == "audio":
        from radvoice.audio import load_audio

        embedding = models.embed_audio(load_audio(value))
    else:
        from radvoice.errors import RadVoiceError

        if not value.strip():
            raise RadVoiceError("--text needs a non-empty question")
        embedding = models.embed_text(value)
    from radvoice.nn.query_rank import rank_query

    (label, score), near = rank_query(models.query_scores(embedding))
    return {
        "source": kind,
        "input": value,
        "label": label,
        "label_score": float(score),
        "probability": float(probabilities[label]),
        "alternatives": [
            {"label": k, "label_score": float(s), "probability": float(probabilities[k])}
            for k, s in near
        ],
    }


def classify(models: Any, volume: Any, queries: list[tuple[str, str]]) -> dict[str, Any]:
    """The JSON object of the CLI contract for a loaded volume."""
    embedding = models.embed_volume(volume)
    probabilities = models.zero_shot(embedding)
    thresholds = models.thresholds
    domain = models.domain(volume, embedding) if hasattr(models, "domain") else None
    in_domain = domain is None or domain.ok
    out: dict[str, Any] = {
        "volume": volume.describe() if hasattr(volume, "describe") else str(volume.source),
        "probabilities": probabilities,
        "thresholds": thresholds,
        "called": [k for k in probabilities if in_domain and probabilities[k] >= thresholds[k]],
    }
    if domain is not None:
        out["domain"] = domain.to_dict()
        out["in_domain"] = in_domain
    answers = [answer(models, probabilities, kind, value) for kind, value in queries]
    if len(answers) == 1:
        out["query"] = answers[0]
    elif answers:
        out["queries"] = answers
    return out


def write_heatmaps(models: Any, volume: Any, result: dict[str, Any], folder: str) -> list[str]:
    """NIfTI heat maps (float32, the volume's grid and geometry) of the asked pathologies, or
    of the called findings when nothing was asked; returns the written paths."""
    from pathlib import Path

    from radvoice.imaging.itk_io import write_map

    answers = [result["query"]] if "query" in result else result.get("queries", [])
    names = list(dict.fromkeys(a["label"] for a in answers if "label" in a))
    names = names or list(result.get("called", []))
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _stem(result)
    written = []
    for name in names:
        path = out_dir / f"{stem}_{name.lower().replace(' ', '_')}.nii.gz"
        write_map(models.heatmap(volume, name), volume, path)
        written.append(str(path))
    return written


def _stem(result: dict[str, Any]) -> str:
    from pathlib import Path

    src = Path(str(result.get("path", "volume")))
    name = src.name
    for ext in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name or "volume"


def _print_text(result: dict[str, Any]) -> None:
    probs, thr = result["probabilities"], result["thresholds"]
    domain = result.get("domain")
    if domain and not result.get("in_domain", True):
        print(f"{result['volume']}: {domain['message']}: no findings are called")
    width = max(len(k) for k in probs)
    answers = [result["query"]] if "query" in result else result.get("queries", [])
    for a in answers:
        flag = "present" if a["probability"] >= thr[a["label"]] else "not present"
        print(f"Q ({a['source']}): {a['input']}")
        print(
            f"  → {a['label']} (match {a['label_score']:.2f}): p = {a['probability']:.3f}, {flag}"
        )
        for alt in a["alternatives"]:
            print(
                f"    or {alt['label']} (match {alt['label_score']:.2f}): "
                f"p = {alt['probability']:.3f}"
            )
    first = [a["label"] for a in answers]
    order = first + sorted((k for k in probs if k not in first), key=lambda k: -probs[k])
    print(f"{'finding':<{width}}  prob   thr    call")
    called = set(result.get("called", []))
    for name in dict.fromkeys(order):
        call = "present" if name in called else ""
        print(f"{name:<{width}}  {probs[name]:.3f}  {thr[name]:.3f}  {call}")
    print("(synthetic-data research model: not for clinical use)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from radvoice.errors import RadVoiceError
    from radvoice.imaging import read_volume
    from radvoice.nn.pipeline import RadVoiceModels

    queries = list(args.queries or [])
    for kind, value in queries:  # fail fast on a missing file, before any model loads
        if kind == "audio" and not Path(value).is_file():
            from radvoice.audio.errors import AudioReadError

            raise AudioReadError(f"audio file not found: {value}")
    models = RadVoiceModels(root=args.models) if args.models else RadVoiceModels()
    paths = list(args.volumes)
    if len(paths) == 1:  # one volume: its read error is the command's error
        volume = read_volume(paths[0], series_uid=args.series)
        _emit(_one(models, volume, paths[0], queries, args), args.json, indent=1)
        return 0
    failed = 0
    for path in paths:
        try:
            volume = read_volume(path, series_uid=args.series)
            result = _one(models, volume, path, queries, args)
        except RadVoiceError as err:
            failed += 1
            result = {"volume": path, "error": str(err)}
        _emit(result, args.json, indent=None)
    return 2 if failed else 0


def _one(models: Any, volume: Any, path: str, queries, args) -> dict[str, Any]:
    result = classify(models, volume, queries)
    result["path"] = str(path)
    if args.heatmap:
        result["heatmaps"] = write_heatmaps(models, volume, result, args.heatmap)
    return result


def _emit(result: dict[str, Any], as_json: bool, indent: int | None) -> None:
    import json

    if as_json:
        print(json.dumps(result, indent=indent), flush=True)
    elif "error" in result:
        print(f"{result['volume']}: {result['error']}", flush=True)
    else:
        _print_text(result)
