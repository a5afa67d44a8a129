"""``radvoice search``: the cases of the library most similar to a spoken or written report, or
to a volume.

    radvoice search (--audio WAV | --text TEXT | --volume PATH) [--library DIR] [-k K] [--json]

``--json`` prints ``{"results": [{"case_id", "score", "labels", "report"}, ...]}``, best first;
``labels`` lists the positive pathologies (null when a case's labels are unknown). Unreadable
input exits with code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search",
        help="find similar prior cases by voice, text or volume",
        description="Find the library cases most similar to a spoken/written report or a CT.",
    )
    query = p.add_mutually_exclusive_group(required=True)
    query.add_argument("--audio", metavar="WAV", help="a spoken report or finding (any rate)")
    query.add_argument("--text", metavar="TEXT", help="a written report or finding")
    query.add_argument("--volume", metavar="PATH", help="a CT volume file or DICOM folder")
    p.add_argument("--library", metavar="DIR", help="the library folder")
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument(
        "--space",
        choices=("ct", "report", "both"),
        help="compare with the cases' CT embeddings, report embeddings or both "
        "(default: both for --audio/--text, ct for --volume)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_search)


def _note(message: str) -> None:
    print(f"radvoice: note: {message}", file=sys.stderr)


def _read_query(args: argparse.Namespace) -> tuple[str, Any]:
    """Read (and validate) the query input before the models are loaded."""
    from radvoice.library.errors import LibraryError

    if args.text is not None:
        if not args.text.strip():
            raise LibraryError("--text is empty")
        return "text", args.text
    if args.audio is not None:
        from radvoice.audio import load_audio

        audio = load_audio(args.audio)
        if audio.size == 0:
            raise LibraryError(f"{args.audio}: the recording is empty")
        return "audio", audio
    from radvoice.imaging import read_volume

    return "volume", read_volume(args.volume)


def run_search(args: argparse.Namespace) -> int:
    from radvoice.library import embedder as emb
    from radvoice.library.errors import LibraryError
    from radvoice.library.library import CaseLibrary
    from radvoice.library.paths import resolve_library_dir

    if args.k < 1:
        raise LibraryError(f"-k must be at least 1, got {args.k}")
    kind, query = _read_query(args)
    directory = resolve_library_dir(args.library)
    with CaseLibrary(directory, create=False, notify=_note) as lib:
        if lib.store.count() == 0:
            raise LibraryError(
                f"the case library at {directory} is empty: run `radvoice library build-demo`"
                " or `radvoice library add`"
            )
        models = emb.load_shipped_embedder()
        space = args.space or ("ct" if kind == "volume" else "both")
        search = {"text": lib.search_text, "audio": lib.search_audio, "volume": lib.search_volume}
        hits = search[kind](models, query, k=args.k, space=space)
    results = [h.to_json() for h in hits]
    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return 0
    for rank, (hit, r) in enumerate(zip(hits, results, strict=True), start=1):
        labels = ", ".join(r["labels"]) if r["labels"] is not None else "labels unknown"
        snippet = " ".join(str(r["report"]).split())[:100]
        print(f"{rank:>3}. case {hit.case_id:<6} score {hit.score:.3f}  [{labels or 'normal'}]")
        print(f"     {snippet}")
    return 0
