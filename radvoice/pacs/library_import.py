"""Import CT series from a PACS into the case library (resumable: done series are skipped)."""

from __future__ import annotations

from collections.abc import Callable

from radvoice.library.importer import ImportItem
from radvoice.pacs.cache import SeriesCache
from radvoice.pacs.client import PacsClient
from radvoice.pacs.query import RemoteSeries, StudyQuery
from radvoice.pacs.retrieve import DEFAULT_MAX_INSTANCES, retrieve_series


def _loader(client: PacsClient, series: RemoteSeries, cache: SeriesCache, max_instances: int):
    def load():
        from radvoice.imaging import read_volume

        got = retrieve_series(client, series, cache, max_instances=max_instances)
        return read_volume(got.path, series_uid=series.series_uid)

    return load


def pacs_items(
    client: PacsClient,
    query: StudyQuery,
    cache: SeriesCache,
    note: Callable[[str], None] | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
) -> list[ImportItem]:
    """One item per CT series of the matching studies; other modalities are noted and skipped."""
    items = []
    for study in client.find_studies(query):
        for series in client.find_series(study.study_uid):
            if series.modality.upper() != "CT":
                if note is not None:
                    note(f"skipped {series.modality} series {series.description!r} (not CT)")
                continue
            source = f"pacs://{client.node.name}/{study.study_uid}/{series.series_uid}"
            items.append(
                ImportItem(
                    source=source,
                    key=series.series_uid,
                    series_uid=series.series_uid,
                    load=_loader(client, series, cache, max_instances),
                )
            )
    return items
