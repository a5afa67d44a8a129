"""The case store: atomic cases, idempotent re-import, removal, model identity, thumbnails."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pytest
from PIL import Image
from test_library_support import HashEmbedder, labels_for, make_volume, report_for

from radvoice.labels import PATHOLOGIES
from radvoice.library.errors import LibraryError, ModelMismatchError
from radvoice.library.library import CaseLibrary
from radvoice.library.paths import db_path


@pytest.fixture
def lib(tmp_path):
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as library:
        yield library


def _add(lib: CaseLibrary, seed: int, emb: HashEmbedder | None = None):
    return lib.add_volume(
        make_volume(seed), emb or HashEmbedder(), source=f"test:{seed}",
        report=report_for(seed), labels=labels_for(seed),
    )  # fmt: skip


def test_database_settings(lib):
    db = sqlite3.connect(db_path(lib.directory))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert lib.store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert lib.store._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_add_stores_everything(lib):
    emb = HashEmbedder()
    case_id, added = _add(lib, 3, emb)
    assert added
    case = lib.store.get(case_id)
    assert case.report == report_for(3)
    assert case.labels == labels_for(3)
    assert case.positive_labels == [p for p, v in zip(PATHOLOGIES, labels_for(3), strict=True) if v]
    assert case.series_uid.endswith(".3") and case.shape == (12, 20, 20)
    assert case.model.name == "test-hash"
    ids, vecs, state = lib.store.embeddings("ct")
    assert ids.tolist() == [case_id]
    np.testing.assert_allclose(vecs[0], emb.embed_volume(make_volume(3)), atol=1e-6)
    ids, vecs, _ = lib.store.embeddings("report")
    np.testing.assert_allclose(vecs[0], emb.embed_text(report_for(3)), atol=1e-6)
    axial, coronal = lib.store.thumbnails(case_id)
    for png in (axial, coronal):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and max(image.size) == 128
    # coronal aspect: 20 x 0.8 = 16 mm wide, 12 x 2 = 24 mm tall
    assert Image.open(io.BytesIO(coronal)).size == (85, 128)
    assert state.generation == 1 and lib.store.integrity_check() == "ok"


def test_duplicate_import_is_a_no_op(lib):
    first, _ = _add(lib, 1)
    again, added = _add(lib, 1)
    assert (again, added) == (first, False)
    # same SeriesInstanceUID, other voxels: still the same series
    other = make_volume(99)
    other.meta["SeriesInstanceUID"] = make_volume(1).meta["SeriesInstanceUID"]
    assert lib.add_volume(other, HashEmbedder(), source="elsewhere") == (first, False)
    # same voxels, no UID: the content hash matches
    same = make_volume(1)
    same.meta.clear()
    assert lib.add_volume(same, HashEmbedder(), source="copy") == (first, False)
    assert lib.store.count() == 1 and lib.store.state().generation == 1


def test_remove_cascades_and_index_follows(lib):
    ids = [_add(lib, s)[0] for s in range(4)]
    assert lib.index("ct").ntotal == 4
    lib.remove(ids[1])
    assert lib.store.get(ids[1]) is None and lib.store.thumbnails(ids[1]) is None
    assert len(lib.store.embeddings("ct")[0]) == 3
    query = HashEmbedder().embed_volume(make_volume(1))
    assert ids[1] not in lib.index("ct").search(query, 4)[1].tolist()
    with pytest.raises(LibraryError, match="no case with id"):
        lib.remove(ids[1])
    # ids are never reused
    assert _add(lib, 1)[0] > max(ids)


def test_bad_labels_and_other_model_are_refused(lib):
    with pytest.raises(LibraryError, match="labels must be 18"):
        lib.add_volume(make_volume(5), HashEmbedder(), source="x", labels=[1, 0])
    _add(lib, 1)
    with pytest.raises(ModelMismatchError, match="reindex"):
        _add(lib, 2, HashEmbedder(checksum="f" * 64))
    assert lib.store.count() == 1 and lib.store.incomplete_cases() == []


def test_not_a_library(tmp_path):
    bad = tmp_path / "lib"
    bad.mkdir()
    db_path(bad).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LibraryError, match="not a usable case library"):
        CaseLibrary(bad)
    with pytest.raises(LibraryError, match="no case library"):
        CaseLibrary(tmp_path / "missing", create=False)
