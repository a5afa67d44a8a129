"""``radvoice export VOLUME --out DIR``: classify and write the results for a PACS or a person.

For a DICOM series: a TID 1500 SR with the 18 findings and, per ``--heatmap LABEL``, a
Parametric Map on the series' grid; always a ``findings.json`` and a ``findings.png``.
``--store NODE`` sends the DICOM objects to a PACS (C-STORE or STOW-RS).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export", help="write findings as DICOM SR (+ heat maps), JSON, PNG")
    p.add_argument("volume", help="a DICOM series folder (for SR/maps) or any volume file")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--series", help="DICOM series UID when the folder holds several")
    p.add_argument("--text", help="a typed question to answer (shown first)")
    p.add_argument("--heatmap", action="append", default=[], metavar="LABEL",
                   help="add a parametric map of this pathology's heat map; repeatable")  # fmt: skip
    p.add_argument("--no-plain", action="store_true", help="no JSON/PNG")
    p.add_argument("--store", metavar="NODE", help="send the DICOM results to this PACS node")
    p.add_argument("--nodes", metavar="FILE", help="the PACS nodes file (default: settings)")
    p.add_argument("--protocol", choices=("auto", "dimse", "web"), default="auto")
    p.add_argument("--models", help="models folder (default: the repository's models/)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def compute_heatmaps(volume: Any, labels: list[str], models: Any) -> dict[str, Any]:
    from radvoice.export.errors import ExportError
    from radvoice.labels import PATHOLOGIES

    for label in labels:
        if label not in PATHOLOGIES:
            raise ExportError(f"unknown pathology {label!r} for --heatmap")
    if not labels:
        return {}
    try:
        from radvoice.nn.heatmap import heatmap
    except ImportError:
        raise ExportError("heat maps are not available in this build (radvoice.nn.heatmap)") from None
    return {label: heatmap(volume, label, models=models) for label in labels}


def run(args: argparse.Namespace) -> int:
    from radvoice.cli.classify import classify
    from radvoice.export import FindingsReport, export_results, load_source_series
    from radvoice.export.errors import ExportError
    from radvoice.imaging import read_volume
    from radvoice.nn.pipeline import RadVoiceModels

    path = Path(args.volume)
    sources = load_source_series(path, args.series) if path.is_dir() else None
    if sources is None and (args.heatmap or args.store):
        raise ExportError("DICOM results (--heatmap, --store) need a DICOM series folder")
    if args.store:  # fail on an unknown node before minutes of work
        from radvoice.pacs import NodeStore

        node = NodeStore(args.nodes).get(args.store)
    volume = read_volume(path, series_uid=args.series)
    models = RadVoiceModels(root=args.models) if args.models else RadVoiceModels()
    queries = [("text", args.text)] if args.text else []
    result = classify(models, volume, queries)
    report = FindingsReport.from_classify(result, Path(args.models) if args.models else None)
    maps = compute_heatmaps(volume, args.heatmap, models)
    files = export_results(args.out, report, sources, maps, volume=volume, plain=not args.no_plain)
    stored = 0
    if args.store:
        from radvoice.pacs import connect

        stored = connect(node, args.protocol).store(files.datasets)
    out = {"files": [str(p) for p in files.paths()], "stored": stored}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for p in files.paths():
            print(p)
        if args.store:
            print(f"stored {stored} DICOM objects on {node.name}", file=sys.stderr)
    return 0
