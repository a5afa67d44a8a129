"""kill -9 during an import, resuming it, and reading while another process writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_library_support import HashEmbedder, labels_for, make_volume, report_for

from radvoice.library.importer import ImportItem, import_items
from radvoice.library.library import CaseLibrary
from radvoice.library.paths import db_path

HERE = Path(__file__).resolve().parent
N_CASES = 150


def _start_importer(library: Path, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])}
    return subprocess.Popen(
        [sys.executable, str(HERE / "test_library_support.py"), str(library), str(n)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_cases(library: Path, proc: subprocess.Popen, at_least: int, timeout: float = 120):
    """Poll the database (read-only, alongside the writer) until it holds ``at_least`` cases."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db_path(library).exists():
            with CaseLibrary(library, create=False, notify=lambda m: None) as lib:
                if lib.store.count() >= at_least:
                    return
        if proc.poll() is not None:
            pytest.fail(f"importer exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    pytest.fail("importer too slow")


def _check_consistent(library: Path) -> list[int]:
    emb = HashEmbedder()
    with CaseLibrary(library, create=False, notify=lambda m: None) as lib:
        assert lib.store.integrity_check() == "ok"
        assert lib.store.incomplete_cases() == []
        cases = lib.store.list_cases(limit=10_000)
        ct_ids, ct, _ = lib.store.embeddings("ct")
        rep_ids, rep, _ = lib.store.embeddings("report")
        assert ct_ids.tolist() == rep_ids.tolist() == [c.id for c in cases]
        seeds = []
        for case, v_ct, v_rep in zip(cases, ct, rep, strict=True):
            seed = int(case.source.split(":")[1])
            seeds.append(seed)
            assert case.report == report_for(seed) and case.labels == labels_for(seed)
            np.testing.assert_allclose(v_ct, emb.embed_volume(make_volume(seed)), atol=1e-6)
            np.testing.assert_allclose(v_rep, emb.embed_text(report_for(seed)), atol=1e-6)
            assert lib.store.thumbnails(case.id) is not None
        assert len(set(seeds)) == len(seeds)
        assert lib.index("ct").ntotal == len(cases) == lib.index("report").ntotal
        return sorted(seeds)


def test_kill_9_mid_import_keeps_committed_cases_and_resumes(tmp_path):
    library = tmp_path / "lib"
    proc = _start_importer(library, N_CASES)
    try:
        _wait_for_cases(library, proc, at_least=15)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (library / "done").exists(), "the import finished before it was killed"
    seeds = _check_consistent(library)
    assert 15 <= len(seeds) < N_CASES
    assert seeds == list(range(len(seeds)))  # committed in order, none lost, none half

    # resuming skips what is in and adds the rest
    items = [
        ImportItem(f"test:{s}", f"case{s}", report=report_for(s), labels=labels_for(s),
                   load=lambda s=s: make_volume(s))
        for s in range(N_CASES)
    ]  # fmt: skip
    with CaseLibrary(library, notify=lambda m: None) as lib:
        summary = import_items(lib, HashEmbedder(), items)
    assert summary.skipped == len(seeds) and len(summary.added) == N_CASES - len(seeds)
    assert _check_consistent(library) == list(range(N_CASES))


def test_read_while_another_process_writes(tmp_path):
    library = tmp_path / "lib"
    total = 120
    proc = _start_importer(library, total)
    errors: list[BaseException] = []
    seen: list[int] = []
    emb = HashEmbedder()
    try:
        _wait_for_cases(library, proc, at_least=3)

        def reader() -> None:
            try:
                while proc.poll() is None:
                    with CaseLibrary(library, create=False, notify=lambda m: None) as lib:
                        n = lib.store.count()
                        hits = lib.search_text(emb, report_for(2), k=3, space="report")
                        assert hits[0].case.report == report_for(2)
                        assert lib.index("ct").ntotal >= n
                        seen.append(n)
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
    assert not errors, repr(errors[0])
    assert any(3 <= n < total for n in seen), seen  # reads happened while it was writing
    assert _check_consistent(library) == list(range(total))
