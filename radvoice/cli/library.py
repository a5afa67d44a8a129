"""``radvoice library add|build-demo|stats|remove|reindex``: manage the case library.

The library folder is ``--library DIR``, else ``$RADVOICE_LIBRARY``, else the per-user data
folder. Imports are resumable: each case is committed on its own and re-running skips it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _library_option(p: argparse.ArgumentParser, top: bool) -> None:
    p.add_argument(
        "--library",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="the library folder (default: $RADVOICE_LIBRARY or the per-user data folder)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser(
        "library", help="manage the case library (import, demo, stats, remove, reindex)"
    )
    _library_option(top, top=True)
    sub = top.add_subparsers(dest="library_command", metavar="ACTION", required=True)

    add = sub.add_parser(
        "add", help="import volumes, DICOM folders, a CT-RATE folder, or CT series from a PACS"
    )
    add.add_argument("paths", nargs="*", metavar="PATH")
    add.add_argument("--pacs", metavar="NODE", help="import the CT series of matching studies")
    add.add_argument("--cache", metavar="DIR", help="PACS series cache (default: per-user)")
    from radvoice.cli.pacs import add_node_options, add_query_options

    add_query_options(add)
    add_node_options(add)
    add.add_argument("--reports", metavar="CSV", help="reports (and labels) keyed by volume")
    add.add_argument("--labels", metavar="CSV", help="a separate labels CSV (CT-RATE style)")
    add.set_defaults(func=run_add)

    demo = sub.add_parser("build-demo", help="build the demo library (synthetic cases + lung1/2)")
    demo.add_argument("--cases", type=int, default=500, help="synthetic cases (default 500)")
    demo.add_argument("--ct-dir", metavar="DIR", help="folder with lung1/lung2 (default: shared)")
    demo.set_defaults(func=run_build_demo)

    stats = sub.add_parser("stats", help="cases, model, indexes, label counts")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=run_stats)

    remove = sub.add_parser("remove", help="remove cases by id")
    remove.add_argument("ids", nargs="+", type=int, metavar="ID")
    remove.set_defaults(func=run_remove)

    reindex = sub.add_parser("reindex", help="rebuild the index files from the database")
    reindex.add_argument(
        "--re-embed", action="store_true", help="recompute all embeddings with the shipped models"
    )
    reindex.set_defaults(func=run_reindex)
    for p in (add, demo, stats, remove, reindex):
        _library_option(p, top=False)
        p.add_argument("--quiet", action="store_true", help="no progress bar")


def _note(message: str) -> None:
    print(f"radvoice: note: {message}", file=sys.stderr)


def open_library(args: argparse.Namespace, create: bool = True) -> Any:
    from radvoice.library.library import CaseLibrary
    from radvoice.library.paths import resolve_library_dir

    return CaseLibrary(resolve_library_dir(args.library), create=create, notify=_note)


def _progress(args: argparse.Namespace, unit: str) -> tuple[Callable[[int, int, str], None], Any]:
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, disable=args.quiet, file=sys.stderr, dynamic_ncols=True)

    def update(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(what[-40:], refresh=False)
        bar.refresh()

    return update, bar


def _load_embedder() -> Any:
    from radvoice.library import embedder

    return embedder.load_shipped_embedder()


def _sync_indexes(lib: Any) -> None:
    for space in ("ct", "report"):
        lib.index(space)


def _collect(args: argparse.Namespace) -> list[Any]:
    """Items from the paths and/or the PACS query (``--pacs``)."""
    from radvoice.library.errors import LibraryError
    from radvoice.library.importer import collect_items

    if not args.paths and not args.pacs:
        raise LibraryError("library add needs PATH... or --pacs NODE")
    items = collect_items(args.paths) if args.paths else []
    if args.pacs:
        from radvoice.cli.pacs import open_node, query_from
        from radvoice.pacs import SeriesCache
        from radvoice.pacs.errors import PacsError
        from radvoice.pacs.library_import import pacs_items

        query = query_from(args)
        if query.is_empty():
            raise PacsError("library add --pacs needs a query (--patient-id, --date-from, ...)")
        client = open_node(args, args.pacs)
        items += pacs_items(client, query, SeriesCache(args.cache), note=_note)
    return items


def run_add(args: argparse.Namespace) -> int:
    from radvoice.library.importer import attach_reports, import_items, read_reports_csv

    items = _collect(args)
    for csv_path in (args.reports, args.labels):
        if csv_path:
            matched = attach_reports(items, read_reports_csv(csv_path))
            print(f"{csv_path}: matched {matched} of {len(items)} cases", file=sys.stderr)
    # nothing but non-CT objects: no models are needed to say so
    embedder = _load_embedder() if any(i.refusal is None for i in items) else None
    with open_library(args) as lib:
        update, bar = _progress(args, "case")
        try:
            summary = import_items(lib, embedder, items, progress=update)
        except KeyboardInterrupt:
            bar.close()
            print("interrupted: committed cases are kept; run the same command to resume",
                  file=sys.stderr)  # fmt: skip
            return 130
        bar.close()
        _sync_indexes(lib)
        total = lib.store.count()
    nothing_ct = summary.refused and not (summary.added or summary.skipped or summary.failed)
    for _, reason in summary.refused:  # an error when no CT at all was given
        print(f"radvoice: {'error' if nothing_ct else 'skipped'}: {reason}", file=sys.stderr)
    for source, reason in summary.failed:
        print(f"radvoice: error: {source}: {reason}", file=sys.stderr)
    refused = f", not CT {len(summary.refused)}" if summary.refused else ""
    print(
        f"added {len(summary.added)}, already in {summary.skipped}, failed {len(summary.failed)}"
        f"{refused}; the library has {total} cases"
    )
    return 2 if summary.failed or nothing_ct else 0


def run_build_demo(args: argparse.Namespace) -> int:
    from radvoice.library.demo import build_demo, default_ct_dir, synthetic_generator
    from radvoice.library.errors import LibraryError

    if args.cases < 0:
        raise LibraryError("--cases must be 0 or more")
    synthetic_generator()  # fail early, before loading the models
    ct_dir = Path(args.ct_dir) if args.ct_dir else default_ct_dir()
    if ct_dir is None:
        _note("lung1/lung2 not found (../shared/data/ct); building with synthetic cases only")
    embedder = _load_embedder()
    with open_library(args) as lib:
        update, bar = _progress(args, "case")
        try:
            summary = build_demo(lib, embedder, args.cases, ct_dir, progress=update)
        except KeyboardInterrupt:
            bar.close()
            print("interrupted: run build-demo again to resume", file=sys.stderr)
            return 130
        bar.close()
        _sync_indexes(lib)
        total = lib.store.count()
    for source, reason in summary.failed:
        print(f"radvoice: error: {source}: {reason}", file=sys.stderr)
    print(
        f"demo library at {lib.directory}: added {summary.added}, already in {summary.skipped},"
        f" failed {len(summary.failed)}; {total} cases"
    )
    return 2 if summary.failed else 0


def run_stats(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as lib:
        stats = lib.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    model = stats["model"]
    print(f"library    {stats['library']}")
    print(f"cases      {stats['cases']}  (embeddings: {stats['embeddings']})")
    print(f"model      {model['name'] + ' ' + model['checksum'][:12] if model else '-'}")
    for space, info in stats["indexes"].items():
        print(f"index {space:<6} {info}")
    labels = {k: v for k, v in stats["labels"].items() if v}
    print("labels     " + (", ".join(f"{k}: {v}" for k, v in labels.items()) or "-"))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as lib:
        for case_id in args.ids:
            lib.remove(case_id)
            print(f"removed case {case_id}")
        _sync_indexes(lib)
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    with open_library(args, create=False) as lib:
        if args.re_embed:
            from radvoice.library.reembed import reembed

            update, bar = _progress(args, "case")
            summary = reembed(lib, _load_embedder(), progress=update)
            bar.close()
            for case_id, reason in summary.failed:
                print(f"radvoice: error: case {case_id}: {reason}", file=sys.stderr)
            print(f"re-embedded {summary.done}, already current {summary.already},"
                  f" failed {len(summary.failed)}")  # fmt: skip
            if summary.failed:
                return 2
        counts = lib.reindex()
    print(f"rebuilt indexes: {counts}")
    return 0
