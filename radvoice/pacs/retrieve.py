"""Retrieve one series into the cache (reused by a second open), checked and atomic."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from radvoice.pacs.cache import SeriesCache
from radvoice.pacs.client import PacsClient
from radvoice.pacs.errors import (
    NotCTError,
    PacsError,
    RetrieveError,
    SeriesTooLargeError,
)
from radvoice.pacs.query import RemoteSeries

DEFAULT_MAX_INSTANCES = 4000
CT_MODALITIES = frozenset({"CT"})


@dataclass(frozen=True)
class RetrievedSeries:
    path: Path
    series: RemoteSeries
    n_instances: int
    from_cache: bool


def lookup_series(client: PacsClient, study_uid: str, series_uid: str) -> RemoteSeries:
    """The series' C-FIND/QIDO record (modality, instance count)."""
    for s in client.find_series(study_uid):
        if s.series_uid == series_uid:
            return s
    raise PacsError(f"series {series_uid} not found in study {study_uid} on {client.node.name}")


def check_series(series: RemoteSeries, max_instances: int = DEFAULT_MAX_INSTANCES) -> None:
    """Refuse what RadVoice cannot open before anything is transferred."""
    if series.modality and series.modality.upper() not in CT_MODALITIES:
        raise NotCTError(
            f"series {series.number or ''} {series.description!r} is {series.modality}, not CT"
        )
    if series.n_instances is not None and series.n_instances > max_instances:
        raise SeriesTooLargeError(
            f"series has {series.n_instances} instances, more than the limit of {max_instances}"
        )


def retrieve_series(
    client: PacsClient,
    series: RemoteSeries,
    cache: SeriesCache,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
) -> RetrievedSeries:
    """The cached folder of ``series``, retrieving it first when not cached.

    Nothing is kept unless every expected instance arrived; ``cancel`` stops the transfer
    (:class:`RetrieveCancelled`).
    """
    cached = cache.lookup(series.study_uid, series.series_uid)
    if cached is not None:
        n = int(cache.info(cached).get("n_files", 0))
        if progress is not None:
            progress(n, n)
        return RetrievedSeries(cached, series, n, True)
    check_series(series, max_instances)
    tmp = cache.begin(series.series_uid)
    try:
        received = client.get_series(series, tmp, progress=progress, cancel=cancel)
        if received == 0:
            raise RetrieveError(f"PACS {client.node.name} sent no instances for this series")
        if series.n_instances and received < series.n_instances:
            raise RetrieveError(
                f"retrieval from {client.node.name} was cut off: {received} of "
                f"{series.n_instances} instances arrived"
            )
        folder = cache.commit(
            tmp,
            series.study_uid,
            series.series_uid,
            {"node": client.node.name, "modality": series.modality},
        )
    except BaseException:
        cache.discard(tmp)
        raise
    return RetrievedSeries(folder, series, received, False)
