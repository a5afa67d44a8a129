"""Index files: search results, incremental sync, rebuild when missing/corrupt/other model."""

from __future__ import annotations

import numpy as np
import pytest
from test_library_support import REPORTS, HashEmbedder, labels_for, make_volume, report_for

from radvoice.library.index import FLAT_MAX, PQ_MIN, VectorIndex, choose_kind
from radvoice.library.library import CaseLibrary
from radvoice.library.paths import index_path


def _fill(lib: CaseLibrary, seeds, emb=None) -> dict[int, int]:
    emb = emb or HashEmbedder()
    out = {}
    for s in seeds:
        out[s] = lib.add_volume(
            make_volume(s), emb, source=f"test:{s}", report=report_for(s), labels=labels_for(s)
        )[0]
    return out


@pytest.fixture
def filled(tmp_path):
    messages: list[str] = []
    lib = CaseLibrary(tmp_path / "lib", notify=messages.append)
    ids = _fill(lib, range(24))
    yield lib, ids, messages
    lib.close()


@pytest.mark.parametrize("space", ["report", "both"])
def test_search_by_text_finds_the_case_of_that_report(filled, space):
    lib, ids, _ = filled
    emb = HashEmbedder()
    for seed in (0, 5, 13):
        hits = lib.search_text(emb, report_for(seed), k=5, space=space)
        assert hits[0].case_id == ids[seed]
        assert hits[0].case.report == report_for(seed)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # a finding shared by several reports ranks those cases first
    hits = lib.search_text(emb, "right pleural effusion", k=3, space=space)
    assert all(h.case.report.startswith(REPORTS[0]) for h in hits)
    assert hits[0].to_json().keys() == {"case_id", "score", "labels", "report"}


def test_search_by_volume_is_exact_in_ct_space(filled):
    lib, ids, _ = filled
    hits = lib.search_volume(HashEmbedder(), make_volume(7), k=3)
    assert hits[0].case_id == ids[7] and hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_new_cases_are_added_without_rebuild(filled):
    lib, _ids, messages = filled
    assert lib.index("ct").ntotal == 24
    built = VectorIndex.load(index_path(lib.directory, "ct")).header
    more = _fill(lib, range(24, 30))
    idx = lib.index("ct")
    assert idx.ntotal == 30 and idx.header.generation == built.generation + 6
    assert VectorIndex.load(index_path(lib.directory, "ct")).header.count == 30
    assert lib.search_volume(HashEmbedder(), make_volume(27), k=1)[0].case_id == more[27]
    # another process opening the library sees the synced file as is
    with CaseLibrary(lib.directory, notify=messages.append) as other:
        assert other.index("ct").ntotal == 30
    assert messages == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b[:-100] + bytes(100),  # payload overwritten
        lambda b: b"garbage" * 10,  # not an index
        lambda b: b"",  # empty
    ],
    ids=["truncated", "zeroed-tail", "garbage", "empty"],
)
def test_corrupt_index_is_rebuilt_with_a_message(filled, damage):
    lib, ids, messages = filled
    lib.index("ct")
    path = index_path(lib.directory, "ct")
    path.write_bytes(damage(path.read_bytes()))
    with CaseLibrary(lib.directory, notify=messages.append) as fresh:
        hits = fresh.search_volume(HashEmbedder(), make_volume(3), k=1)
        assert hits[0].case_id == ids[3]
    assert len(messages) == 1 and "rebuilding the ct index" in messages[0]
    assert VectorIndex.load(path).ntotal == 24  # the rebuilt file is valid again


def test_faiss_unreadable_payload_with_valid_checksum(filled):
    """A file whose checksum matches but whose payload faiss cannot parse is rebuilt too."""
    lib, _, messages = filled
    idx = lib.index("ct")
    idx.index = __import__("faiss").IndexFlatIP(512)  # wrong count vs header -> mismatch
    idx.save(index_path(lib.directory, "ct"))
    with CaseLibrary(lib.directory, notify=messages.append) as fresh:
        assert fresh.index("ct").ntotal == 24
    assert any("does not match its header" in m for m in messages)


def test_index_of_another_model_version_is_rebuilt(filled):
    lib, _, messages = filled
    path = index_path(lib.directory, "report")
    idx = lib.index("report")
    idx.header.model_checksum = "1" * 64
    idx.save(path)
    with CaseLibrary(lib.directory, notify=messages.append) as fresh:
        assert fresh.index("report").header.model_checksum == "0" * 64
    assert any("another model version" in m for m in messages)


def test_query_with_other_models_is_refused(filled):
    lib, _, _ = filled
    with pytest.raises(Exception, match="reindex --re-embed"):
        lib.search_text(HashEmbedder(checksum="2" * 64), "effusion")


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivfpq"])
def test_large_index_kinds_find_stored_vectors(tmp_path, kind):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 512))
    x = centres[rng.integers(0, 20, 600)] + 0.3 * rng.standard_normal((600, 512))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    from radvoice.library.index import IndexHeader

    header = IndexHeader("ct", "", "m", "c", 1, 0, 600, 0)
    idx = VectorIndex.build(np.arange(1, 601), x, header, kind=kind)
    assert idx.header.kind == kind
    assert idx.header.tuned_recall >= 0.95  # tuned at build time on the library's own vectors
    path = tmp_path / "ct.faiss"
    idx.save(path)
    loaded = VectorIndex.load(path)
    exact = x @ x[:50].T
    hits = 0
    for i in range(50):
        _scores, found = loaded.search(x[i], 10)
        hits += len(set(found.tolist()) & set((np.argsort(-exact[:, i])[:10] + 1).tolist()))
    assert hits / 500 >= 0.9
    assert not list(tmp_path.glob(".*.tmp"))


def test_index_kind_by_size():
    assert choose_kind(10) == "flat"
    assert choose_kind(FLAT_MAX - 1) == "flat"
    assert choose_kind(FLAT_MAX) == "ivf"
    assert choose_kind(PQ_MIN - 1) == "ivf"
    assert choose_kind(PQ_MIN) == "ivfpq"


def test_ivf_index_is_retrained_when_the_library_doubles(tmp_path):
    messages: list[str] = []
    with CaseLibrary(tmp_path / "lib", notify=messages.append, index_kind="ivf") as lib:
        _fill(lib, range(40))
        assert lib.index("ct").header.built_count == 40
        _fill(lib, range(40, 60))
        assert lib.index("ct").header.built_count == 40 and messages == []  # added in place
        more = _fill(lib, range(60, 90))
        idx = lib.index("ct")
        assert idx.header.built_count == 90 and idx.header.kind == "ivf"
        assert any("grew from 40 to 90" in m for m in messages)
        assert lib.search_volume(HashEmbedder(), make_volume(88), k=1)[0].case_id == more[88]


def test_temp_files_of_killed_savers_are_cleaned(tmp_path):
    import os
    import subprocess
    import sys

    lib_dir = tmp_path / "lib"
    CaseLibrary(lib_dir).close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = lib_dir / f".ct.faiss.{dead}.0123abcd.tmp"
    live = lib_dir / f".ct.faiss.{os.getpid()}.0123abcd.tmp"
    stale.write_bytes(b"half")
    live.write_bytes(b"in progress")
    CaseLibrary(lib_dir).close()
    assert not stale.exists() and live.exists()
