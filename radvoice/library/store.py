"""The case store: one SQLite database (WAL) holding cases, thumbnails and embeddings.

The database is the source of truth; faiss index files are caches rebuilt from it. Every case is
written in one transaction (case row, thumbnails, both embeddings, the generation counter), so a
crash or ``kill -9`` leaves either the whole case or nothing. ``synchronous=FULL`` makes each
commit durable before the next case starts. Readers never block on a writer (WAL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radvoice.labels import NUM_PATHOLOGIES, PATHOLOGIES
from radvoice.library.embedder import EMBED_DIM, ModelIdentity
from radvoice.library.errors import LibraryError, ModelMismatchError

SCHEMA_VERSION = 1
SPACES = ("ct", "report")
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    source_size INTEGER,
    source_mtime REAL,
    series_uid TEXT UNIQUE,
    study_uid TEXT,
    study_date TEXT,
    series_date TEXT,
    description TEXT NOT NULL DEFAULT '',
    modality TEXT NOT NULL DEFAULT 'CT',
    shape TEXT NOT NULL,
    spacing TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    report TEXT NOT NULL DEFAULT '',
    labels TEXT,
    model_name TEXT NOT NULL,
    model_checksum TEXT NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_source ON cases(source);
CREATE TABLE IF NOT EXISTS thumbnails (
    case_id INTEGER PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
    axial BLOB NOT NULL,
    coronal BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    case_id INTEGER NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    space TEXT NOT NULL CHECK (space IN ('ct', 'report')),
    vector BLOB NOT NULL CHECK (length(vector) = 2048),
    PRIMARY KEY (case_id, space)
);
"""


@dataclass
class LibraryCase:
    """A complete case to insert (everything is written in one transaction)."""

    source: str
    content_hash: str
    model: ModelIdentity
    ct_embedding: np.ndarray
    axial_png: bytes
    coronal_png: bytes
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    report: str = ""
    report_embedding: np.ndarray | None = None
    labels: Sequence[int] | None = None
    series_uid: str | None = None
    study_uid: str | None = None
    study_date: str | None = None
    series_date: str | None = None
    description: str = ""
    modality: str = "CT"
    source_size: int | None = None
    source_mtime: float | None = None


CaseRecord = LibraryCase
"""The old name, kept for existing imports."""


@dataclass
class CaseInfo:
    """A stored case without its blobs."""

    id: int
    source: str
    series_uid: str | None
    study_uid: str | None
    study_date: str | None
    description: str
    modality: str
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    content_hash: str
    report: str
    labels: list[int] | None
    model: ModelIdentity
    added_at: float

    @property
    def positive_labels(self) -> list[str] | None:
        """Names of the positive pathologies, or None when the labels are unknown."""
        if self.labels is None:
            return None
        return [name for name, v in zip(PATHOLOGIES, self.labels, strict=True) if v]


@dataclass
class StoreState:
    """Counters that tell an index file whether it is still in step with the database."""

    generation: int
    rewrites: int
    model: ModelIdentity | None
    counts: dict[str, int] = field(default_factory=dict)
    max_id: int = 0


def _vector_blob(vec: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
    if arr.shape != (EMBED_DIM,):
        raise LibraryError(f"an embedding must have {EMBED_DIM} values, got {arr.shape}")
    return arr.tobytes()


def _labels_json(labels: Sequence[int] | None) -> str | None:
    if labels is None:
        return None
    values = [int(v) for v in labels]
    if len(values) != NUM_PATHOLOGIES or any(v not in (0, 1) for v in values):
        raise LibraryError(f"labels must be {NUM_PATHOLOGIES} values of 0/1, got {values!r}")
    return json.dumps(values)


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise LibraryError(f"unknown embedding space {space!r} (ct, report)")


def _unpack(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    case_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vectors = np.empty((len(rows), EMBED_DIM), dtype=np.float32)
    for i, (_, blob) in enumerate(rows):
        vectors[i] = np.frombuffer(blob, dtype="<f4")
    return case_ids, vectors


class CaseStore:
    """Thread-safe access to one library database (one connection, serialised by a lock)."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise LibraryError(f"no case library at {self.path.parent}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LibraryError(f"{self.path}: cannot switch the database to WAL mode")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=FULL")
            self._lock = threading.RLock()
            self._init_schema()
        except sqlite3.DatabaseError as err:
            raise LibraryError(f"{self.path} is not a usable case library: {err}") from None
        except OSError as err:
            raise LibraryError(f"cannot open the case library at {self.path}: {err}") from None

    def _init_schema(self) -> None:
        with self.read() as db:  # an existing library is opened without taking the write lock
            has_meta = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            row = db.execute(
                "SELECT value FROM meta WHERE key='schema_version'"
            ).fetchone() if has_meta else None  # fmt: skip
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        with self.write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                db.execute("INSERT INTO meta VALUES ('generation', '0')")
                db.execute("INSERT INTO meta VALUES ('rewrites', '0')")
            elif int(row[0]) > SCHEMA_VERSION:
                raise LibraryError(
                    f"{self.path} was made by a newer RadVoice (schema {row[0]} > {SCHEMA_VERSION})"
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    @staticmethod
    def _bump(db: sqlite3.Connection, rewrite: bool) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        if rewrite:
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='rewrites'")

    @staticmethod
    def _meta(db: sqlite3.Connection) -> dict[str, str]:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())

    @staticmethod
    def _model(meta: dict[str, str]) -> ModelIdentity | None:
        if "model_name" in meta and "model_checksum" in meta:
            return ModelIdentity(meta["model_name"], meta["model_checksum"])
        return None

    # -- writing ----------------------------------------------------------------------------
    def add(self, rec: LibraryCase) -> tuple[int, bool]:
        """Insert a case; ``(id, True)``, or ``(existing id, False)`` if the series is in."""
        ct_blob = _vector_blob(rec.ct_embedding)
        report_blob = None if rec.report_embedding is None else _vector_blob(rec.report_embedding)
        labels = _labels_json(rec.labels)
        with self.write() as db:
            existing = self._find(db, rec.series_uid, rec.content_hash)
            if existing is not None:
                return existing, False
            model = self._model(self._meta(db))
            if model is None:
                db.execute("INSERT INTO meta VALUES ('model_name', ?)", (rec.model.name,))
                db.execute("INSERT INTO meta VALUES ('model_checksum', ?)", (rec.model.checksum,))
            elif model != rec.model:
                raise ModelMismatchError(
                    f"the library's embeddings come from {model.short()}, not "
                    f"{rec.model.short()}: run `radvoice library reindex --re-embed` first"
                )
            cur = db.execute(
                "INSERT INTO cases (source, source_size, source_mtime, series_uid, study_uid,"
                " study_date, series_date, description, modality, shape, spacing, content_hash,"
                " report, labels, model_name, model_checksum, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.source, rec.source_size, rec.source_mtime, rec.series_uid or None,
                    rec.study_uid, rec.study_date, rec.series_date, rec.description,
                    rec.modality, json.dumps(list(rec.shape)), json.dumps(list(rec.spacing)),
                    rec.content_hash, rec.report, labels, rec.model.name, rec.model.checksum,
                    time.time(),
                ),
            )  # fmt: skip
            case_id = int(cur.lastrowid or 0)
            db.execute(
                "INSERT INTO thumbnails VALUES (?, ?, ?)", (case_id, rec.axial_png, rec.coronal_png)
            )
            db.execute("INSERT INTO embeddings VALUES (?, 'ct', ?)", (case_id, ct_blob))
            if report_blob is not None:
                db.execute("INSERT INTO embeddings VALUES (?, 'report', ?)", (case_id, report_blob))
            self._bump(db, rewrite=False)
        return case_id, True

    def remove(self, case_id: int) -> bool:
        """Delete a case with its thumbnails and embeddings; False if there was none."""
        with self.write() as db:
            cur = db.execute("DELETE FROM cases WHERE id = ?", (int(case_id),))
            if cur.rowcount:
                self._bump(db, rewrite=True)
            return bool(cur.rowcount)

    def replace_embeddings(
        self, case_id: int, model: ModelIdentity, ct: np.ndarray, report: np.ndarray | None
    ) -> None:
        """Re-embedding: swap a case's vectors for ones made by ``model`` (one transaction)."""
        with self.write() as db:
            db.execute("DELETE FROM embeddings WHERE case_id = ?", (case_id,))
            db.execute("INSERT INTO embeddings VALUES (?, 'ct', ?)", (case_id, _vector_blob(ct)))
            if report is not None:
                db.execute(
                    "INSERT INTO embeddings VALUES (?, 'report', ?)",
                    (case_id, _vector_blob(report)),
                )
            db.execute(
                "UPDATE cases SET model_name = ?, model_checksum = ? WHERE id = ?",
                (model.name, model.checksum, case_id),
            )
            self._bump(db, rewrite=True)

    def set_model(self, model: ModelIdentity) -> None:
        """Declare the library's model once every case carries its embeddings."""
        with self.write() as db:
            stale = db.execute(
                "SELECT COUNT(*) FROM cases WHERE model_name != ? OR model_checksum != ?",
                (model.name, model.checksum),
            ).fetchone()[0]
            if stale:
                raise LibraryError(f"{stale} cases still carry embeddings of another model")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('model_name', ?)", (model.name,))
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('model_checksum', ?)", (model.checksum,)
            )
            self._bump(db, rewrite=True)

    # -- reading ----------------------------------------------------------------------------
    @staticmethod
    def _find(db: sqlite3.Connection, series_uid: str | None, content_hash: str) -> int | None:
        if series_uid:
            row = db.execute("SELECT id FROM cases WHERE series_uid = ?", (series_uid,)).fetchone()
            if row:
                return int(row[0])
        row = db.execute("SELECT id FROM cases WHERE content_hash = ?", (content_hash,)).fetchone()
        return int(row[0]) if row else None

    def find_case(self, series_uid: str | None, content_hash: str) -> int | None:
        """The case with this series UID or content hash, if any."""
        with self._lock:
            return self._find(self._db, series_uid, content_hash)

    def find_series(self, series_uid: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM cases WHERE series_uid = ?", (series_uid,)
            ).fetchone()
        return int(row[0]) if row else None

    def find_source(
        self, source: str, size: int | None = None, mtime: float | None = None
    ) -> int | None:
        """A case imported from this exact source (and file size/mtime, when given)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, source_size, source_mtime FROM cases WHERE source = ?", (source,)
            ).fetchall()
        for case_id, s, m in rows:
            if (size is None or s == size) and (mtime is None or m == mtime):
                return int(case_id)
        return None

    def sources(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT source FROM cases").fetchall()}

    def state(self, counts: bool = True) -> StoreState:
        """The counters (cheap); with ``counts``, also vectors per space and the largest id."""
        with self.read() as db:
            return self._state(db, counts)

    def _state(self, db: sqlite3.Connection, counts: bool) -> StoreState:
        meta = self._meta(db)
        state = StoreState(int(meta["generation"]), int(meta["rewrites"]), self._model(meta))
        if counts:
            state.counts = dict.fromkeys(SPACES, 0)
            state.counts.update(db.execute("SELECT space, COUNT(*) FROM embeddings GROUP BY space"))
            state.max_id = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM cases").fetchone()[0])
        return state

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])

    def embeddings(
        self, space: str, after_id: int = 0
    ) -> tuple[np.ndarray, np.ndarray, StoreState]:
        """``(case ids int64, vectors float32 (n, 512), state)`` from one snapshot."""
        _check_space(space)
        with self.read() as db:
            rows = db.execute(
                "SELECT case_id, vector FROM embeddings WHERE space = ? AND case_id > ?"
                " ORDER BY case_id",
                (space, after_id),
            ).fetchall()
            state = self._state(db, counts=True)
        return (*_unpack(rows), state)

    def vectors(self, space: str, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(case ids, vectors)`` of the given cases that have a vector in ``space``."""
        _check_space(space)
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT case_id, vector FROM embeddings WHERE space = ? AND case_id IN ({marks})",
                (space, *[int(i) for i in ids]),
            ).fetchall()
        return _unpack(rows)

    def cases(self, ids: Sequence[int]) -> dict[int, CaseInfo]:
        """The cases with these ids (missing ids are left out)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, source, series_uid, study_uid, study_date, description, modality,"
                " shape, spacing, content_hash, report, labels, model_name, model_checksum,"
                f" added_at FROM cases WHERE id IN ({marks})",
                [int(i) for i in ids],
            ).fetchall()
        return {int(r[0]): self._info(r) for r in rows}

    def get(self, case_id: int) -> CaseInfo | None:
        return self.cases([case_id]).get(int(case_id))

    def list_cases(self, limit: int = 100, offset: int = 0) -> list[CaseInfo]:
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM cases ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
                )
            ]
        found = self.cases(ids)
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _info(r: tuple) -> CaseInfo:
        return CaseInfo(
            id=int(r[0]), source=r[1], series_uid=r[2], study_uid=r[3], study_date=r[4],
            description=r[5], modality=r[6], shape=tuple(json.loads(r[7])),
            spacing=tuple(json.loads(r[8])), content_hash=r[9], report=r[10],
            labels=None if r[11] is None else [int(v) for v in json.loads(r[11])],
            model=ModelIdentity(r[12], r[13]), added_at=float(r[14]),
        )  # fmt: skip

    def thumbnails(self, case_id: int) -> tuple[bytes, bytes] | None:
        """``(axial PNG, coronal PNG)`` of a case."""
        with self._lock:
            row = self._db.execute(
                "SELECT axial, coronal FROM thumbnails WHERE case_id = ?", (int(case_id),)
            ).fetchone()
        return (bytes(row[0]), bytes(row[1])) if row else None

    def label_counts(self) -> dict[str, int]:
        """Positive cases per pathology (cases with known labels only)."""
        totals = np.zeros(NUM_PATHOLOGIES, dtype=np.int64)
        with self._lock:
            for (labels,) in self._db.execute("SELECT labels FROM cases WHERE labels IS NOT NULL"):
                totals += np.asarray(json.loads(labels), dtype=np.int64)
        return {name: int(n) for name, n in zip(PATHOLOGIES, totals, strict=True)}

    def integrity_check(self) -> str:
        """``'ok'`` or SQLite's description of the damage."""
        with self._lock:
            rows = self._db.execute("PRAGMA integrity_check").fetchall()
            fk = self._db.execute("PRAGMA foreign_key_check").fetchall()
        text = "; ".join(str(r[0]) for r in rows)
        return text if not fk else f"{text}; {len(fk)} foreign key violations"

    def incomplete_cases(self) -> list[int]:
        """Cases missing their thumbnails or CT embedding (never expected: atomic import)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM cases c WHERE NOT EXISTS (SELECT 1 FROM thumbnails t"
                " WHERE t.case_id = c.id) OR NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.case_id = c.id AND e.space = 'ct')"
                " OR (c.report != '' AND NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.case_id = c.id AND e.space = 'report'))"
            ).fetchall()
        return [int(r[0]) for r in rows]
