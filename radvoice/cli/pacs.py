"""``radvoice pacs nodes|echo|find|get|store``: talk to a PACS (DIMSE or DICOMweb).

A NODE is a configured name (``pacs nodes add``), or inline ``AE@host:port`` / a DICOMweb URL.
Nodes live in ``$RADVOICE_PACS_NODES`` or the per-user config folder; retrieved series in
``$RADVOICE_PACS_CACHE`` or the per-user cache folder (``--cache DIR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_node_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", metavar="FILE", help="the PACS nodes file (default: settings)")
    p.add_argument(
        "--protocol", choices=("auto", "dimse", "web"), default="auto",
        help="DIMSE (C-FIND/C-GET/C-STORE) or DICOMweb (QIDO/WADO/STOW); auto prefers DIMSE",
    )  # fmt: skip


def add_query_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patient-id", default="")
    p.add_argument("--patient-name", default="", help="wildcards allowed: 'DOE^*'")
    p.add_argument("--date-from", default="", help="YYYYMMDD or YYYY-MM-DD")
    p.add_argument("--date-to", default="")
    p.add_argument("--modality", default="", help="e.g. CT")
    p.add_argument("--accession", default="")
    p.add_argument("--study-uid", default="")


def query_from(args: argparse.Namespace) -> Any:
    from radvoice.pacs import StudyQuery

    return StudyQuery(
        patient_id=args.patient_id, patient_name=args.patient_name, date_from=args.date_from,
        date_to=args.date_to, modality=args.modality, accession=args.accession,
        study_uid=args.study_uid,
    )  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    top = subparsers.add_parser("pacs", help="query, retrieve from and store to a PACS")
    sub = top.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)

    nodes = sub.add_parser("nodes", help="list, add or remove configured PACS nodes")
    nodes.add_argument("action", choices=("list", "add", "remove"))
    nodes.add_argument("name", nargs="?")
    nodes.add_argument("--ae", default="", help="the PACS's AE title (DIMSE)")
    nodes.add_argument("--host", default="")
    nodes.add_argument("--port", type=int, default=0)
    nodes.add_argument("--url", default="", help="DICOMweb base URL")
    nodes.add_argument("--calling-ae", default="RADVOICE", help="RadVoice's own AE title")
    nodes.add_argument("--timeout", type=float, default=15.0, help="seconds")
    nodes.set_defaults(func=run_nodes)

    echo = sub.add_parser("echo", help="C-ECHO (DIMSE) or a QIDO ping (DICOMweb)")
    echo.add_argument("node")
    echo.set_defaults(func=run_echo)

    find = sub.add_parser("find", help="find studies (C-FIND / QIDO-RS), or one study's series")
    find.add_argument("node")
    add_query_options(find)
    find.add_argument("--series", action="store_true", help="list the series of each study")
    find.add_argument("--json", action="store_true")
    find.set_defaults(func=run_find)

    get = sub.add_parser("get", help="retrieve one series into the cache (C-GET / WADO-RS)")
    get.add_argument("node")
    get.add_argument("--study-uid", required=True)
    get.add_argument("--series-uid", required=True)
    get.add_argument("--cache", metavar="DIR", help="cache folder (default: per-user cache)")
    get.add_argument("--max-instances", type=int, default=None)
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.add_argument("--json", action="store_true")
    get.set_defaults(func=run_get)

    store = sub.add_parser("store", help="store DICOM files (C-STORE / STOW-RS)")
    store.add_argument("node")
    store.add_argument("files", nargs="+")
    store.set_defaults(func=run_store)
    for p in (nodes, echo, find, get, store):
        add_node_options(p)


def open_node(args: argparse.Namespace, name: str | None = None) -> Any:
    from radvoice.pacs import NodeStore, connect

    node = NodeStore(args.nodes).get(name or args.node)
    return connect(node, args.protocol)


def run_nodes(args: argparse.Namespace) -> int:
    from radvoice.pacs import NodeStore, PacsNode
    from radvoice.pacs.errors import NodeConfigError

    store = NodeStore(args.nodes)
    if args.action == "list":
        for node in store.load().values():
            print(node.describe())
        return 0
    if not args.name:
        raise NodeConfigError(f"pacs nodes {args.action} needs a NAME")
    if args.action == "remove":
        store.remove(args.name)
        print(f"removed {args.name}")
        return 0
    node = PacsNode(
        name=args.name, ae_title=args.ae, host=args.host, port=args.port,
        dicomweb_url=args.url.rstrip("/"), calling_ae=args.calling_ae, timeout_s=args.timeout,
    )  # fmt: skip
    store.add(node)
    print(f"saved {node.describe()} in {store.path}")
    return 0


def run_echo(args: argparse.Namespace) -> int:
    client = open_node(args)
    seconds = client.echo()
    kind = "C-ECHO" if type(client).__name__ == "DimseClient" else "QIDO ping"
    print(f"{client.node.name}: {kind} ok in {seconds * 1000:.0f} ms")
    return 0


def run_find(args: argparse.Namespace) -> int:
    client = open_node(args)
    studies = client.find_studies(query_from(args))
    rows = []
    for st in studies:
        row = st.to_json()
        if args.series:
            row["series"] = [s.to_json() for s in client.find_series(st.study_uid)]
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{row['study_date'] or '--------'}  {row['patient_id']:<16} {row['modalities']:<6}"
              f" {row['n_instances'] or '?':>5} img  {row['description']}  {row['study_uid']}")  # fmt: skip
        for s in row.get("series", []):
            print(f"    series {s['number'] or '-':>4} {s['modality']:<4} {s['n_instances'] or '?':>5}"
                  f" img  {s['description']}  {s['series_uid']}")  # fmt: skip
    print(f"{len(rows)} studies", file=sys.stderr)
    return 0


def run_get(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from radvoice.pacs import SeriesCache, retrieve_series
    from radvoice.pacs.retrieve import DEFAULT_MAX_INSTANCES, lookup_series

    client = open_node(args)
    cache = SeriesCache(args.cache)
    series = lookup_series(client, args.study_uid, args.series_uid)
    bar = tqdm(total=series.n_instances or 0, unit="img", disable=args.quiet, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total or bar.total
        bar.n = done
        bar.refresh()

    try:
        got = retrieve_series(
            client, series, cache, progress=progress,
            max_instances=args.max_instances or DEFAULT_MAX_INSTANCES,
        )  # fmt: skip
    finally:
        bar.close()
    if args.json:
        out = {"path": str(got.path), "n_instances": got.n_instances, "from_cache": got.from_cache}
        print(json.dumps(out))
    else:
        origin = "cached already" if got.from_cache else "retrieved"
        print(f"{got.path}  ({got.n_instances} instances, {origin})")
    return 0


def run_store(args: argparse.Namespace) -> int:
    from radvoice.pacs.store import read_for_store

    client = open_node(args)
    datasets = read_for_store(args.files)
    n = client.store(datasets)
    print(f"stored {n} instances on {client.node.name}")
    return 0
