"""faiss indexes over case embeddings, chosen by library size, saved atomically with a checksum.

Kinds (inner product on L2-normalised vectors = cosine similarity):

* ``flat``  — exact ``IndexFlatIP``, up to :data:`FLAT_MAX` vectors.
* ``hnsw``  — ``IndexHNSWFlat`` (M=32), up to :data:`HNSW_MAX`; ``efSearch`` from bench/retrieval.py.
* ``ivfpq`` — ``IndexIVFPQ`` (32 bytes/vector) with exact re-ranking (``IndexRefineFlat``) beyond.

All are wrapped in ``IndexIDMap2`` so faiss ids are the database case ids. One file per space:
``MAGIC, u64 header length, header JSON, serialised index``; the header carries the payload's
size and SHA-256 and the database counters the index was built from. Files are written to a
temporary name and ``os.replace``-d, so a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import hashlib
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
HNSW_MAX = 2_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
DEFAULT_PARAMS: dict[str, dict[str, int]] = {
    "flat": {},
    "hnsw": {"efSearch": 128},
    "ivfpq": {"nprobe": 32, "k_factor": 32},
}


class IndexFileError(Exception):
    """An index file is missing, corrupt or unusable; ``str(err)`` says why (one line)."""


def choose_kind(n: int) -> str:
    """The index kind for a library of ``n`` vectors."""
    if n < FLAT_MAX:
        return "flat"
    if n < HNSW_MAX:
        return "hnsw"
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
    format: int = FORMAT_VERSION


def _new_faiss_index(kind: str, train: np.ndarray) -> faiss.Index:
    if kind == "flat":
        inner: faiss.Index = faiss.IndexFlatIP(EMBED_DIM)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(EMBED_DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif kind == "ivfpq":
        n = len(train)
        nlist = int(2 ** round(np.log2(max(16.0, 2 * np.sqrt(max(n, 1))))))
        nlist = max(1, min(nlist, n // 39 if n >= 39 else 1))
        quantizer = faiss.IndexFlatIP(EMBED_DIM)
        ivf = faiss.IndexIVFPQ(quantizer, EMBED_DIM, nlist, 32, 8, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.min_points_per_centroid = 1  # small libraries only reach here in tests
        ivf.pq.cp.min_points_per_centroid = 1
        ivf.train(train)
        inner = faiss.IndexRefineFlat(ivf)
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
        header.count = int(index.ntotal)
        return cls(index, header)

    def apply_params(self) -> None:
        p = self.header.params
        inner = faiss.downcast_index(self.index.index)
        if self.header.kind == "hnsw":
            inner.hnsw.efSearch = int(p.get("efSearch", 128))
        elif self.header.kind == "ivfpq":
            inner.k_factor = float(p.get("k_factor", 32))
            faiss.extract_index_ivf(inner.base_index).nprobe = int(p.get("nprobe", 32))

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
        payload = faiss.serialize_index(self.index).tobytes()
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
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        except RuntimeError as err:
            raise IndexFileError(f"faiss cannot read it ({str(err).splitlines()[0]})") from None
        if int(index.ntotal) != header.count or int(index.d) != EMBED_DIM:
            raise IndexFileError("its content does not match its header")
        return cls(index, header)


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
