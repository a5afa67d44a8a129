"""The case library: a :class:`CaseStore` plus one faiss index per embedding space.

Index files are caches of the database. :meth:`CaseLibrary.index` loads the file, checks it
against the database (model, counters) and brings it up to date: new cases are added
incrementally, anything else (missing, corrupt, another model version, removed or re-embedded
cases, a size that calls for another index kind) rebuilds it from the database, with a message.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radvoice.imaging.volume import Volume
from radvoice.library.embedder import Embedder, ModelIdentity, as_embedding, model_identity
from radvoice.library.errors import LibraryError, ModelMismatchError
from radvoice.library.index import IndexFileError, IndexHeader, VectorIndex, choose_kind
from radvoice.library.paths import db_path, index_path
from radvoice.library.store import SPACES, CaseInfo, CaseStore, LibraryCase, StoreState
from radvoice.library.synthetic import SYNTHETIC_PREFIX, synthetic_volume
from radvoice.library.thumbnails import make_thumbnails

log = logging.getLogger("radvoice.library")
QUERY_SPACES = ("ct", "report", "both")


@dataclass
class SearchHit:
    """One retrieved case; ``score`` is a cosine similarity (mean of both spaces for 'both')."""

    case_id: int
    score: float
    case: CaseInfo

    def to_json(self) -> dict[str, object]:
        """The CLI contract: ``{case_id, score, labels, report}`` (labels: positive names)."""
        return {
            "case_id": self.case_id,
            "score": round(float(self.score), 6),
            "labels": self.case.positive_labels,
            "report": self.case.report,
        }


def content_hash(volume: Volume) -> str:
    """SHA-256 of the voxels and the grid: the same series gives the same hash."""
    digest = hashlib.sha256()
    digest.update(repr((volume.shape, tuple(round(s, 4) for s in volume.spacing))).encode())
    digest.update(np.ascontiguousarray(volume.array).tobytes())
    return digest.hexdigest()


class CaseLibrary:
    """A library folder: ``library.sqlite`` plus ``ct.faiss`` and ``report.faiss``."""

    def __init__(
        self,
        directory: str | Path,
        create: bool = True,
        notify: Callable[[str], None] | None = None,
        index_kind: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise LibraryError(f"{self.directory} is not a folder")
        self.store = CaseStore(db_path(self.directory), create=create)
        self.notify = notify or log.warning
        self.index_kind = index_kind  # None: chosen by size
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.RLock()
        _remove_stale_temps(self.directory)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> CaseLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding -----------------------------------------------------------------------------
    def add_volume(
        self,
        volume: Volume,
        embedder: Embedder,
        source: str,
        report: str = "",
        labels: Sequence[int] | None = None,
        source_size: int | None = None,
        source_mtime: float | None = None,
        digest: str | None = None,
    ) -> tuple[int, bool]:
        """Embed and store one case atomically; ``(id, False)`` if the series was already in."""
        meta = volume.meta
        uid = str(meta.get("SeriesInstanceUID") or "") or None
        digest = digest or content_hash(volume)
        existing = self.store.find_case(uid, digest)
        if existing is not None:
            return existing, False
        model = model_identity(embedder)
        self.check_model(model, allow_empty=True)
        ct = as_embedding(embedder.embed_volume(volume), "CT")
        text = (report or "").strip()
        rep = as_embedding(embedder.embed_text(text), "report") if text else None
        axial, coronal = make_thumbnails(volume)
        record = LibraryCase(
            source=source, content_hash=digest, model=model, ct_embedding=ct,
            axial_png=axial, coronal_png=coronal, shape=volume.shape, spacing=volume.spacing,
            report=text, report_embedding=rep, labels=labels, series_uid=uid,
            study_uid=_text(meta.get("StudyInstanceUID")), study_date=_text(meta.get("StudyDate")),
            series_date=_text(meta.get("SeriesDate")),
            description=_text(meta.get("SeriesDescription") or meta.get("StudyDescription")) or "",
            modality=volume.modality, source_size=source_size, source_mtime=source_mtime,
        )  # fmt: skip
        return self.store.add(record)

    def load_volume(self, case_id: int) -> Volume:
        """A stored case's volume, read again from its source (synthetic cases regenerated)."""
        case = self.store.get(case_id)
        if case is None:
            raise LibraryError(f"no case with id {case_id} in {self.directory}")
        if case.source.startswith(SYNTHETIC_PREFIX):
            return synthetic_volume(case.source)
        ctrate = _ctrate_reader(Path(case.source))
        if ctrate is not None:
            return ctrate()
        from radvoice.imaging import read_volume

        return read_volume(case.source, series_uid=case.series_uid)

    def remove(self, case_id: int) -> None:
        if not self.store.remove(case_id):
            raise LibraryError(f"no case with id {case_id} in {self.directory}")

    # -- models -----------------------------------------------------------------------------
    def check_model(self, model: ModelIdentity, allow_empty: bool = False) -> None:
        """Refuse to mix embeddings of different models, with the way out in the message."""
        state = self.store.state(counts=False)
        if state.model is None:
            if allow_empty:
                return
            raise LibraryError(f"the case library at {self.directory} is empty")
        if state.model != model:
            raise ModelMismatchError(
                f"the library at {self.directory} was embedded with {state.model.short()}, "
                f"the loaded models are {model.short()}: run `radvoice library reindex --re-embed`"
            )

    # -- indexes ----------------------------------------------------------------------------
    def index(self, space: str) -> VectorIndex:
        """The up-to-date index of ``space`` (loaded, synced or rebuilt as needed)."""
        if space not in SPACES:
            raise LibraryError(f"unknown embedding space {space!r} (ct, report)")
        with self._lock:
            path = index_path(self.directory, space)
            current = self._indexes.get(space)
            if current is not None and self._current(current, self.store.state(counts=False)):
                return current
            if current is None:
                try:
                    current = VectorIndex.load(path)
                except IndexFileError as err:
                    if path.exists():
                        self.notify(f"rebuilding the {space} index: {path.name}: {err}")
            state = self.store.state()
            if current is not None:
                h = current.header
                reason = self._stale_reason(current, state, space)
                if reason is not None:
                    self.notify(f"rebuilding the {space} index: {reason}")
                    current = None
                elif h.rewrites != state.rewrites:  # removals/re-embedding: quietly rebuild
                    current = None
                elif h.generation != state.generation:
                    current = self._sync(current, space)
            if current is None:
                current = self._rebuild(space)
                self._save(current, path)
            self._indexes[space] = current
            return current

    @staticmethod
    def _current(idx: VectorIndex, state: StoreState) -> bool:
        """The index reflects exactly this database state (no need to look further)."""
        h = idx.header
        model = state.model
        return (
            h.generation == state.generation
            and h.rewrites == state.rewrites
            and (model is None or (h.model_name, h.model_checksum) == (model.name, model.checksum))
        )

    def _stale_reason(self, idx: VectorIndex, state: StoreState, space: str) -> str | None:
        """Why an index cannot be brought up to date by adding cases (None: it can)."""
        h = idx.header
        if state.model is not None and (h.model_name, h.model_checksum) != (
            state.model.name, state.model.checksum
        ):  # fmt: skip
            return (
                f"it was made by another model version ({h.model_name} {h.model_checksum[:12]},"
                f" the library uses {state.model.short()})"
            )
        n = state.counts.get(space, 0)
        wanted = self.index_kind or choose_kind(n)
        if h.kind != wanted and not (wanted == "ivfpq" and n < 256):
            return f"{n} cases call for a {wanted} index, not {h.kind}"
        if h.kind in ("ivf", "ivfpq") and n > 2 * max(h.built_count, 1):
            return f"the library grew from {h.built_count} to {n} cases since it was trained"
        return None

    def _sync(self, idx: VectorIndex, space: str) -> VectorIndex | None:
        """Add the cases committed since the index was made; None if a rebuild is needed."""
        ids, vectors, state = self.store.embeddings(space, after_id=idx.header.max_id)
        if state.rewrites != idx.header.rewrites:
            return None
        idx.add(ids, vectors)
        if idx.ntotal != state.counts.get(space, 0):
            return None
        idx.header.generation, idx.header.max_id = state.generation, state.max_id
        self._save(idx, index_path(self.directory, space))
        return idx

    def _rebuild(self, space: str) -> VectorIndex:
        ids, vectors, state = self.store.embeddings(space)
        model = state.model or ModelIdentity("", "")
        header = IndexHeader(
            space=space, kind="", model_name=model.name, model_checksum=model.checksum,
            generation=state.generation, rewrites=state.rewrites, max_id=state.max_id, count=0,
        )  # fmt: skip
        return VectorIndex.build(ids, vectors, header, kind=self.index_kind)

    def _save(self, idx: VectorIndex, path: Path) -> None:
        try:
            idx.save(path)
        except OSError as err:  # a read-only library still answers, from memory
            self.notify(f"could not write {path.name} ({err.strerror}); using it from memory")

    def reindex(self) -> dict[str, int]:
        """Rebuild both index files from the database; returns the vectors per space."""
        with self._lock:
            self._indexes.clear()
            out = {}
            for space in SPACES:
                idx = self._rebuild(space)
                self._save(idx, index_path(self.directory, space))
                self._indexes[space] = idx
                out[space] = idx.ntotal
            return out

    # -- searching --------------------------------------------------------------------------
    def search_vector(self, query: np.ndarray, k: int = 10, space: str = "ct") -> list[SearchHit]:
        """The ``k`` cases nearest to an embedding, best first."""
        if space not in QUERY_SPACES:
            raise LibraryError(f"unknown search space {space!r} ({', '.join(QUERY_SPACES)})")
        if k < 1:
            raise LibraryError(f"k must be at least 1, got {k}")
        q = as_embedding(query, "query")
        if space != "both":
            scores, ids = self.index(space).search(q, k)
            found = self.store.cases(ids.tolist())
            return [
                SearchHit(int(i), float(s), found[int(i)])
                for s, i in zip(scores, ids, strict=True)
                if int(i) in found
            ]
        return self._search_both(q, k)

    def _search_both(self, q: np.ndarray, k: int) -> list[SearchHit]:
        """Union of both spaces' candidates, re-scored exactly from the stored vectors."""
        wide = max(4 * k, 32)
        candidates: set[int] = set()
        for space in SPACES:
            candidates.update(int(i) for i in self.index(space).search(q, wide)[1])
        ordered = sorted(candidates)
        sims: dict[int, list[float]] = {i: [] for i in ordered}
        for space in SPACES:
            ids, vectors = self.store.vectors(space, ordered)
            for i, s in zip(ids.tolist(), (vectors @ q).tolist(), strict=True):
                sims[i].append(s)
        ranked = sorted(
            ((sum(v) / len(v), i) for i, v in sims.items() if v), key=lambda t: (-t[0], t[1])
        )[:k]
        found = self.store.cases([i for _, i in ranked])
        return [SearchHit(i, s, found[i]) for s, i in ranked if i in found]

    def search_text(
        self, embedder: Embedder, text: str, k: int = 10, space: str = "both"
    ) -> list[SearchHit]:
        if not text.strip():
            raise LibraryError("the search text is empty")
        self.check_model(model_identity(embedder))
        return self.search_vector(as_embedding(embedder.embed_text(text), "query"), k, space)

    def search_audio(
        self, embedder: Embedder, audio: np.ndarray, k: int = 10, space: str = "both"
    ) -> list[SearchHit]:
        self.check_model(model_identity(embedder))
        return self.search_vector(as_embedding(embedder.embed_audio(audio), "query"), k, space)

    def search_volume(
        self, embedder: Embedder, volume: Volume, k: int = 10, space: str = "ct"
    ) -> list[SearchHit]:
        self.check_model(model_identity(embedder))
        return self.search_vector(as_embedding(embedder.embed_volume(volume), "query"), k, space)

    # -- facts ------------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        state = self.store.state()
        files = {}
        for space in SPACES:
            path = index_path(self.directory, space)
            try:
                h = VectorIndex.load(path).header
                fresh = h.generation == state.generation and h.rewrites == state.rewrites
                files[space] = {"kind": h.kind, "vectors": h.count, "up_to_date": fresh}
            except IndexFileError as err:
                files[space] = {"problem": str(err)}
        return {
            "library": str(self.directory),
            "cases": self.store.count(),
            "embeddings": state.counts,
            "model": None if state.model is None else {
                "name": state.model.name, "checksum": state.model.checksum
            },
            "indexes": files,
            "labels": self.store.label_counts(),
            "database_bytes": db_path(self.directory).stat().st_size,
        }  # fmt: skip


def _ctrate_reader(path: Path) -> Callable[[], Volume] | None:
    """For a volume inside a CT-RATE layout: a reader applying its metadata's rescale."""
    try:
        from radvoice.data import ctrate
    except ImportError:
        return None
    stem = ctrate.volume_stem(path.name)
    match = ctrate.NAME_RE.match(stem)
    if match is None or len(path.parents) < 4:
        return None
    try:
        layout = ctrate.CTRateLayout.discover(path.parents[3])
        meta = ctrate.read_metadata(layout.csv("metadata", match.group(1)))[stem]
    except (ctrate.CTRateError, KeyError):
        return None
    return lambda: ctrate.read_ctrate_volume(path, meta)


def _remove_stale_temps(directory: Path) -> None:
    """Delete index temp files left by a process killed while saving (its pid is gone)."""
    for tmp in directory.glob(".*.faiss.*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-3])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
