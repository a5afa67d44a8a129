"""PACS benchmark: retrieve a 300-slice CT series from a local Orthanc into the cache and open it.

    .venv/bin/python bench/pacs_retrieve.py [--slices 300] [--repeats 3]

Starts a private Orthanc (as the tests do), stores lung1 resampled to ``--slices`` slices, then
times, best of ``--repeats``: (a) dcmtk ``getscu`` (C-GET) of the series into a folder,
(b) RadVoice C-GET into an empty cache, (c) RadVoice WADO-RS into an empty cache, (d) reading
the cached files (``read_volume``, a second open), (e) = (b) + (d) retrieve and open.
Prints the times and the ratios b/a, c/a, e/a and e/d.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from load import make_series
    from pacs_support import OrthancServer, store_folder

    from radvoice.imaging import discover, read_volume
    from radvoice.pacs import SeriesCache, connect, retrieve_series
    from radvoice.pacs.query import RemoteSeries

    work = Path(tempfile.mkdtemp(prefix="rv_pacs_bench_"))
    server = OrthancServer(work / "orthanc").start()
    try:
        make_series(work / "series", args.slices)
        (info,) = discover(work / "series")
        node = server.node("bench")
        assert store_folder(node, work / "series") == args.slices
        import pydicom

        first = pydicom.dcmread(info.files[0], stop_before_pixels=True)
        study, series_uid = str(first.StudyInstanceUID), info.uid
        series = RemoteSeries(study, series_uid, "CT", n_instances=args.slices)
        out = work / "getscu"

        def getscu() -> None:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            subprocess.run(
                ["getscu", "-aet", "RADVOICE", "-aec", "ORTHANC", "127.0.0.1",
                 str(server.dicom_port), "-S", "-k", "QueryRetrieveLevel=SERIES",
                 "-k", f"StudyInstanceUID={study}", "-k", f"SeriesInstanceUID={series_uid}",
                 "-od", str(out)],
                check=True, capture_output=True,
            )  # fmt: skip
            assert len(os.listdir(out)) == args.slices

        def radvoice(protocol: str):
            def run() -> None:
                root = work / f"cache-{protocol}"
                shutil.rmtree(root, ignore_errors=True)
                got = retrieve_series(connect(node, protocol), series, SeriesCache(root))
                assert got.n_instances == args.slices and not got.from_cache

            return run

        t_get = best(getscu, args.repeats)
        t_dimse = best(radvoice("dimse"), args.repeats)
        t_web = best(radvoice("web"), args.repeats)
        cached = SeriesCache(work / "cache-dimse").lookup(study, series_uid)
        t_open = best(lambda: read_volume(cached), args.repeats)
        n_mb = sum(p.stat().st_size for p in cached.glob("*.dcm")) / 2**20
        print(f"series: {args.slices} slices 512x512, {n_mb:.0f} MiB; best of {args.repeats}")
        print(f"(a) getscu C-GET            {t_get:7.2f} s")
        print(f"(b) RadVoice C-GET -> cache {t_dimse:7.2f} s   b/a = {t_dimse / t_get:.2f}")
        print(f"(c) RadVoice WADO-RS        {t_web:7.2f} s   c/a = {t_web / t_get:.2f}")
        print(f"(d) open the cached files   {t_open:7.2f} s")
        e = t_dimse + t_open
        print(f"(e) retrieve + open (b+d)   {e:7.2f} s   e/a = {e / t_get:.2f}   e/d = {e / t_open:.2f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
