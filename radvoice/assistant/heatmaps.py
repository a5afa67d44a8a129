"""Heat maps off the GUI thread, cached per volume and pathology (no Qt).

:class:`HeatmapService` computes ``heatmap(volume, pathology) -> float32 array in the volume's
grid`` (by default :func:`radvoice.nn.heatmap.heatmap` with the assistant's models) on one
worker thread and puts the asked pathology's map into a
:class:`~radvoice.app.heatmap_state.HeatmapState`. :meth:`request` shows a cached map at once
(the question's answer is not kept waiting); :meth:`precompute` fills the cache in the
background after the CT is analysed, behind any request. Results for a volume that was
replaced meanwhile are dropped.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from radvoice.components.heatmap_state import HeatmapState
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES

log = logging.getLogger(__name__)

Compute = Callable[[Volume, str], np.ndarray]
DEFAULT_CACHE_BYTES = 1 << 30


class HeatmapUnavailable(RadVoiceError):
    """This build or these models cannot compute heat maps."""


def default_compute(models=None) -> Compute:
    """``radvoice.nn.heatmap.heatmap`` bound to ``models`` (loaded lazily, once)."""

    def compute(volume: Volume, pathology: str) -> np.ndarray:
        if models is not None and not hasattr(models, "heatmap"):
            raise HeatmapUnavailable("these models give no heat maps")
        try:
            from radvoice.nn.heatmap import heatmap
        except ImportError as err:
            raise HeatmapUnavailable(f"heat maps are not available ({err})") from None
        return heatmap(volume, pathology, models=models)

    return compute


def volume_key(volume: Volume) -> tuple:
    """A cache key for a volume: its UID, source, shape and a checksum of a voxel sample."""
    sample = np.ascontiguousarray(volume.array[::7, ::13, ::13])
    return (
        str(volume.meta.get("SeriesInstanceUID", "")),
        str(volume.source or ""),
        tuple(volume.shape),
        zlib.crc32(sample.tobytes()),
    )


@dataclass(frozen=True)
class _Job:
    gen: int
    volume: Volume
    key: tuple
    pathology: str


class HeatmapService:
    """One worker thread; ``request``/``precompute``/``volume_opened`` from any thread."""

    def __init__(
        self,
        state: HeatmapState,
        compute: Compute | None = None,
        models=None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        torch_threads: int | None = 1,
    ) -> None:
        self.state = state
        self.compute = compute if compute is not None else default_compute(models)
        self.cache_bytes = int(cache_bytes)
        self.torch_threads = torch_threads
        self._cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._cond = threading.Condition()
        self._jobs: list[_Job] = []
        self._busy: _Job | None = None
        self._gen = 0
        self._volume: Volume | None = None
        self._key: tuple | None = None
        self._wanted: str | None = None
        self._closed = False
        self.last_seconds: dict[str, float] = {}  # pathology -> compute time of its last map
        self._thread = threading.Thread(target=self._run, name="radvoice-heatmap", daemon=True)
        self._thread.start()

    # -- inputs -----------------------------------------------------------------------------------
    def volume_opened(self, volume: Volume | None) -> None:
        """A new CT: queued work is dropped, the overlay cleared (cached maps of it stay)."""
        key = None if volume is None else volume_key(volume)
        with self._cond:
            self._gen += 1
            self._volume, self._key, self._wanted = volume, key, None
            self._jobs.clear()
        self.state.clear()

    def request(self, pathology: str) -> bool:
        """Show ``pathology``'s map: at once when cached (True), else computed first."""
        if pathology not in PATHOLOGIES:
            raise ValueError(f"unknown CT-RATE label {pathology!r}")
        with self._cond:
            volume, key = self._volume, self._key
            if volume is None or self._closed:
                return False
            self._wanted = pathology
            cached = self._cache.get((key, pathology))
            if cached is not None:
                self._cache.move_to_end((key, pathology))
            else:
                self._jobs = [j for j in self._jobs if j.pathology != pathology]
                running = self._busy is not None and self._busy.pathology == pathology
                if not running:
                    self._jobs.insert(0, _Job(self._gen, volume, key, pathology))
                self._cond.notify_all()
        if cached is not None:
            self.state.set_map(volume, pathology, cached)
            return True
        self.state.set_computing(pathology)
        return False

    def precompute(self, pathologies: Iterable[str]) -> int:
        """Queue maps of the open CT behind any request; returns how many were queued."""
        n = 0
        with self._cond:
            if self._volume is None or self._closed:
                return 0
            queued = {j.pathology for j in self._jobs}
            if self._busy is not None:
                queued.add(self._busy.pathology)
            for p in pathologies:
                if p not in PATHOLOGIES:
                    raise ValueError(f"unknown CT-RATE label {p!r}")
                if p in queued or (self._key, p) in self._cache:
                    continue
                self._jobs.append(_Job(self._gen, self._volume, self._key, p))
                queued.add(p)
                n += 1
            self._cond.notify_all()
        return n

    def cached(self, pathology: str) -> np.ndarray | None:
        with self._cond:
            return self._cache.get((self._key, pathology))

    # -- worker -----------------------------------------------------------------------------------
    def _limit_torch_threads(self) -> None:
        """Keep torch's threads at ``torch_threads`` (without importing torch here: a lazy
        import on this thread would hold the import lock the other workers need)."""
        torch = sys.modules.get("torch")
        if (
            self.torch_threads is not None
            and torch is not None
            and torch.get_num_threads() != int(self.torch_threads)
        ):
            torch.set_num_threads(int(self.torch_threads))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._busy = self._jobs.pop(0)
            try:
                self._limit_torch_threads()
                self._do(job)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()

    def _do(self, job: _Job) -> None:
        t0 = time.perf_counter()
        try:
            arr = np.asarray(self.compute(job.volume, job.pathology), dtype=np.float32)
            if arr.shape != job.volume.shape or not np.isfinite(arr).all():
                raise RadVoiceError(
                    f"the heat map of {job.pathology} is not a finite map of the volume's grid"
                )
        except RadVoiceError as err:
            self._failed(job, str(err).splitlines()[0])
            return
        except Exception as err:  # noqa: BLE001 - the worker must stay up
            log.exception("heat map of %s failed", job.pathology)
            self._failed(job, f"the heat map could not be computed ({type(err).__name__})")
            return
        seconds = time.perf_counter() - t0
        log.info("heat map of %s for %s in %.2f s", job.pathology, job.volume.describe(), seconds)
        with self._cond:
            self.last_seconds[job.pathology] = seconds
            self._store((job.key, job.pathology), arr)
            show = job.gen == self._gen and self._wanted == job.pathology and not self._closed
        if show:
            self.state.set_map(job.volume, job.pathology, arr)

    def _failed(self, job: _Job, message: str) -> None:
        with self._cond:
            show = job.gen == self._gen and self._wanted == job.pathology and not self._closed
        if show:
            self.state.fail(f"No heat map for {job.pathology}: {message}")
        else:
            log.info("precomputing the heat map of %s failed: %s", job.pathology, message)

    def _store(self, key: tuple, arr: np.ndarray) -> None:
        self._cache[key] = arr
        self._cache.move_to_end(key)
        total = sum(a.nbytes for a in self._cache.values())
        while total > self.cache_bytes and len(self._cache) > 1:
            _k, old = self._cache.popitem(last=False)
            total -= old.nbytes

    # -- lifecycle --------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is queued or running (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy is not None:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return not (self._jobs or self._busy)
                self._cond.wait(left)
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    def shutdown(self, timeout: float | None = None) -> None:
        """Drop queued jobs and join the worker (a running map finishes first). Idempotent."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
