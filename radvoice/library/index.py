"""faiss indexes over case embeddings, chosen by library size, saved atomically with a checksum.

Kinds (inner product on L2-normalised vectors = cosine similarity):

* ``flat``  — exact ``IndexFlatIP``, up to :data:`FLAT_MAX` vectors.
* ``ivf``   — ``IndexIVFFlat`` (about 2*sqrt(n) lists), up to :data:`PQ_MIN` vectors.
* ``ivfpq`` — ``IndexIVFPQ`` (32 bytes/vector) with exact re-ranking (``IndexRefineFlat``) beyond.
* ``hnsw``  — ``IndexHNSWFlat`` (M=32, efConstruction 64), on request only: as fast to query
  as IVF-Flat on clustered data, but its build was 3-30x slower here (bench/retrieval.py,
  docs/history/notes/library.md) and a rebuild after a removal would take hours at 1M on 2 cores.

faiss runs with one OpenMP thread unless ``RADVOICE_FAISS_THREADS`` says otherwise: a single
query gains nothing from threads, and on a loaded machine OpenMP's spinning threads made builds
~30x slower in our measurements (docs/history/notes/library.md).

Approximate kinds are tuned when built: the smallest ``efSearch``/``nprobe`` whose recall@10
against exact search reaches :data:`TARGET_RECALL` on a sample of the library's own vectors.

All are wrapped in ``IndexIDMap2`` so faiss ids are the database case ids. One file per space:
``MAGIC, u64 header length, header JSON, serialised index``; the header carries the payload's
size and SHA-256 and the database counters the index was built from. Files are written to a
temporary name and ``os.replace``-d, so a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from radvoice.library.embedder import EMBED_DIM

MAGIC = b"RVFAISS1"
FORMAT_VERSION = 1
FLAT_MAX = 50_000
PQ_MIN = 2_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
DEFAULT_PARAMS: dict[str, dict[str, int]] = {
    "flat": {},
    "hnsw": {"efSearch": 128},
    "ivf": {"nprobe": 16},
    "ivfpq": {"nprobe": 32, "k_factor": 32},
}
TARGET_RECALL = 0.95
TUNE_QUERIES = 200
KINDS = tuple(DEFAULT_PARAMS)


def _configure_threads() -> None:
    try:
        n = int(os.environ.get("RADVOICE_FAISS_THREADS", "1"))
    except ValueError:
        n = 1
    faiss.omp_set_num_threads(max(1, n))


_configure_threads()


class IndexFileError(Exception):
    """An index file is missing, corrupt or unusable; ``str(err)`` says why (one line)."""


def choose_kind(n: int) -> str:
    """The index kind for a library of ``n`` vectors."""
    if n < FLAT_MAX:
        return "flat"
    if n < PQ_MIN:
        return "ivf"
    return "ivfpq"


@dataclass
class IndexHeader:
    """What an index file says about itself and the database state it reflects."""

    space: str
    kind: str
    model_name: str
    model_checksum: str
    generation: int
    rewrites: int
    max_id: int
    count: int
    params: dict[str, int] = field(default_factory=dict)
    payload_size: int = 0
    payload_sha256: str = ""
    tuned_recall: float | None = None
    built_count: int = 0
    format: int = FORMAT_VERSION


def _new_faiss_index(kind: str, train: np.ndarray) -> faiss.Index:
    if kind == "flat":
        inner: faiss.Index = faiss.IndexFlatIP(EMBED_DIM)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(EMBED_DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif kind in ("ivf", "ivfpq"):
        n = len(train)
        nlist = int(2 ** round(np.log2(max(16.0, 2 * np.sqrt(max(n, 1))))))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))
        quantizer = faiss.IndexFlatIP(EMBED_DIM)
        if kind == "ivf":
            ivf = faiss.IndexIVFFlat(quantizer, EMBED_DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            ivf = faiss.IndexIVFPQ(quantizer, EMBED_DIM, nlist, 32, 8, faiss.METRIC_INNER_PRODUCT)
            ivf.pq.cp.min_points_per_centroid = 1
        ivf.cp.min_points_per_centroid = 1  # small libraries only reach here in tests
        ivf.train(train)
        inner = faiss.IndexRefineFlat(ivf) if kind == "ivfpq" else ivf
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    return faiss.IndexIDMap2(inner)


def _training_sample(vectors: np.ndarray, limit: int = 262_144) -> np.ndarray:
    if len(vectors) <= limit:
        return vectors
    rng = np.random.default_rng(0)
    return vectors[np.sort(rng.choice(len(vectors), limit, replace=False))]


class VectorIndex:
    """A faiss index of one embedding space with its :class:`IndexHeader`."""

    def __init__(self, index: faiss.Index, header: IndexHeader) -> None:
        self.index = index
        self.header = header
        self.apply_params()

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        header: IndexHeader,
        kind: str | None = None,
    ) -> VectorIndex:
        """A new index over ``vectors`` (faiss ids = ``ids``); ``header.kind`` is set here."""
        header.kind = kind or choose_kind(len(ids))
        if header.kind == "ivfpq" and len(ids) < 256:
            header.kind = "flat"  # PQ needs 256 training points per sub-quantizer
        header.params = {**DEFAULT_PARAMS[header.kind], **header.params}
        index = _new_faiss_index(header.kind, _training_sample(vectors))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
        header.count = header.built_count = int(index.ntotal)
        built = cls(index, header)
        if header.kind != "flat" and len(ids) > 10:
            built.tune(ids, vectors)
        return built

    def apply_params(self) -> None:
        p = self.header.params
        inner = faiss.downcast_index(self.index.index)
        if self.header.kind == "hnsw":
            inner.hnsw.efSearch = int(p.get("efSearch", 128))
        elif self.header.kind == "ivf":
            inner.nprobe = int(p.get("nprobe", 16))
        elif self.header.kind == "ivfpq":
            inner.k_factor = float(p.get("k_factor", 32))
            faiss.extract_index_ivf(inner.base_index).nprobe = int(p.get("nprobe", 32))

    def tune(self, ids: np.ndarray, vectors: np.ndarray, target: float = TARGET_RECALL) -> None:
        """Pick the smallest efSearch/nprobe reaching ``target`` recall@10 against exact search.

        Queries are a sample of the stored vectors; each query's own id is left out of both the
        exact and the approximate top 10.
        """
        n = len(ids)
        rng = np.random.default_rng(0)
        sel = np.sort(rng.choice(n, min(TUNE_QUERIES, n), replace=False))
        queries = np.ascontiguousarray(vectors[sel], np.float32)
        k = min(10, n - 1)
        truth = _exact_top(vectors, queries, k + 1)
        truth_sets = [
            set(ids[row].tolist()) - {int(ids[i])} for row, i in zip(truth, sel, strict=True)
        ]
        if self.header.kind == "hnsw":
            name, values = "efSearch", [16, 32, 64, 128, 256, 512, 1024]
        else:
            nlist = faiss.extract_index_ivf(faiss.downcast_index(self.index.index)).nlist
            name = "nprobe"
            values = [v for v in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if v < nlist]
            values.append(nlist)
        recall = 0.0
        for value in values:
            self.header.params[name] = int(value)
            self.apply_params()
            _, found = self.index.search(queries, k + 1)
            hits = sum(
                len((set(row.tolist()) - {int(ids[i])}) & want)
                for row, i, want in zip(found, sel, truth_sets, strict=True)
            )
            recall = hits / max(1, sum(len(w) for w in truth_sets))
            if recall >= target:
                break
        self.header.tuned_recall = round(recall, 4)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64))
        self.header.count = int(self.index.ntotal)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, case ids)`` of the ``k`` nearest, best first (missing slots dropped)."""
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(1, EMBED_DIM))
        k = max(1, min(int(k), self.ntotal))
        if self.ntotal == 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        scores, ids = self.index.search(q, k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # -- files ------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write atomically: temp file in the same folder, fsync, ``os.replace``."""
        payload = _to_bytes(self.index)
        self.header.payload_size = len(payload)
        self.header.payload_sha256 = hashlib.sha256(payload).hexdigest()
        head = json.dumps(asdict(self.header)).encode()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(MAGIC + struct.pack("<Q", len(head)) + head)
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read and verify an index file; :class:`IndexFileError` says what is wrong."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IndexFileError("the file is missing") from None
        except OSError as err:
            raise IndexFileError(f"cannot read it ({err.strerror})") from None
        if len(data) < len(MAGIC) + 8 or not data.startswith(MAGIC):
            raise IndexFileError("it is not a RadVoice index file")
        (head_len,) = struct.unpack("<Q", data[len(MAGIC) : len(MAGIC) + 8])
        start = len(MAGIC) + 8 + head_len
        try:
            raw: dict[str, Any] = json.loads(data[len(MAGIC) + 8 : start])
            header = IndexHeader(**raw)
        except (ValueError, TypeError) as err:
            raise IndexFileError(f"its header is unreadable ({err})") from None
        if header.format != FORMAT_VERSION:
            raise IndexFileError(f"it has format {header.format}, expected {FORMAT_VERSION}")
        payload = data[start:]
        if len(payload) != header.payload_size:
            raise IndexFileError(
                f"its size does not match ({len(payload)} bytes, header says {header.payload_size})"
            )
        if hashlib.sha256(payload).hexdigest() != header.payload_sha256:
            raise IndexFileError("its checksum does not match (the file is corrupt)")
        try:
            index = _from_bytes(payload)
        except RuntimeError as err:
            raise IndexFileError(f"faiss cannot read it ({str(err).splitlines()[0]})") from None
        if int(index.ntotal) != header.count or int(index.d) != EMBED_DIM:
            raise IndexFileError("its content does not match its header")
        return cls(index, header)


def _to_bytes(index: faiss.Index) -> bytes:
    """Serialise through a Python callback: ``faiss.serialize_index`` returns a SWIG vector
    that SimpleITK's SWIG types shadow once SimpleITK is imported first."""
    chunks: list[bytes] = []
    writer = faiss.PyCallbackIOWriter(chunks.append)
    faiss.write_index(index, writer)
    del writer  # flushes
    return b"".join(chunks)


def _from_bytes(payload: bytes) -> faiss.Index:
    stream = io.BytesIO(payload)
    reader = faiss.PyCallbackIOReader(stream.read)
    try:
        return faiss.read_index(reader)
    finally:
        del reader


def _exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the exact top ``k`` per query (brute force, in chunks)."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 65_536):
        block = vectors[start : start + 65_536] @ queries.T  # (b, q)
        top = np.argpartition(-block, min(k, len(block) - 1), axis=0)[:k]
        scores = np.take_along_axis(block, top, axis=0).T
        merged_s = np.concatenate([best_s, scores], axis=1)
        merged_i = np.concatenate([best_i, top.T + start], axis=1)
        order = np.argsort(-merged_s, axis=1)[:, :k]
        best_s = np.take_along_axis(merged_s, order, axis=1)
        best_i = np.take_along_axis(merged_i, order, axis=1)
    return best_i


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
