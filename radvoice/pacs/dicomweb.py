"""DICOMweb client (dicomweb-client): QIDO-RS queries, per-series WADO-RS, STOW-RS."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from radvoice.pacs.errors import (
    PacsConnectionError,
    PacsQueryError,
    PacsRejectedError,
    RetrieveCancelled,
    RetrieveError,
    StoreError,
)
from radvoice.pacs.nodes import PacsNode
from radvoice.pacs.query import SERIES_KEYS, STUDY_KEYS, RemoteSeries, StudyInfo, StudyQuery

Progress = Callable[[int, int], None]


class WebClient:
    """Talks to one node over DICOMweb (QIDO/WADO/STOW under ``dicomweb_url``)."""

    def __init__(self, node: PacsNode) -> None:
        if not node.has_web:
            raise PacsConnectionError(f"PACS node {node.name!r} has no DICOMweb URL")
        from dicomweb_client.api import DICOMwebClient

        self.node = node
        self._client = DICOMwebClient(node.dicomweb_url, timeout=node.timeout_s)
        # no silent retries: a down or hung PACS answers within the node's timeout, once
        self._client.set_http_retry_params(retry=False)

    @contextmanager
    def _errors(self, what: str):
        import requests

        try:
            yield
        except requests.exceptions.Timeout:
            raise PacsConnectionError(f"PACS {self.node.name} timed out during {what}") from None
        except requests.exceptions.ConnectionError:
            raise PacsConnectionError(
                f"cannot reach PACS {self.node.name} at {self.node.dicomweb_url} during {what}"
            ) from None
        except requests.exceptions.HTTPError as err:
            code = err.response.status_code if err.response is not None else "?"
            cls = PacsRejectedError if code in (401, 403) else PacsQueryError
            raise cls(f"PACS {self.node.name} answered HTTP {code} to {what}") from None

    def echo(self) -> float:
        """A QIDO ping (one study at most); returns the round trip in seconds."""
        t0 = time.perf_counter()
        with self._errors("the QIDO ping"):
            self._client.search_for_studies(limit=1)
        return time.perf_counter() - t0

    def find_studies(self, query: StudyQuery) -> list[StudyInfo]:
        filters = query.to_qido()
        with self._errors("the study query"):
            found = self._client.search_for_studies(
                fields=list(STUDY_KEYS), search_filters=filters, get_remaining=True
            )
        return [StudyInfo.from_dataset(_from_json(d)) for d in found]

    def find_series(self, study_uid: str) -> list[RemoteSeries]:
        with self._errors("the series query"):
            found = self._client.search_for_series(
                study_instance_uid=study_uid, fields=list(SERIES_KEYS), get_remaining=True
            )
        return [RemoteSeries.from_dataset(study_uid, _from_json(d)) for d in found]

    def get_series(
        self,
        series: RemoteSeries,
        dest: Path,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """WADO-RS one series into ``dest``; returns the count received."""
        expected = series.n_instances or 0
        received = 0
        with self._errors("the retrieval"):
            it = self._client.iter_series(series.study_uid, series.series_uid)
            try:
                for ds in it:
                    if cancel is not None and cancel.is_set():
                        raise RetrieveCancelled("retrieval cancelled")
                    ds.save_as(dest / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
                    received += 1
                    if progress is not None:
                        progress(received, expected)
            except (ValueError, OSError) as err:
                raise RetrieveError(
                    f"retrieval from {self.node.name} was cut off after {received} instances: {err}"
                ) from None
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
        return received

    def store(self, datasets: Sequence[Dataset]) -> int:
        """STOW-RS the datasets (grouped by study); returns how many were accepted."""
        stored = 0
        by_study: dict[str, list[Dataset]] = {}
        for ds in datasets:
            by_study.setdefault(str(ds.StudyInstanceUID), []).append(ds)
        for study_uid, group in by_study.items():
            with self._errors("the store"):
                try:
                    response = self._client.store_instances(group, study_instance_uid=study_uid)
                except Exception as err:  # dicomweb-client raises plain errors for STOW failures
                    if type(err).__module__.startswith("requests"):
                        raise
                    raise StoreError(f"PACS {self.node.name} refused the store: {err}") from None
            failed = getattr(response, "FailedSOPSequence", None) or []
            if failed:
                raise StoreError(f"PACS {self.node.name} refused {len(failed)} instances")
            stored += len(group)
        return stored


def _from_json(data: dict[str, Any]) -> Dataset:
    """A QIDO JSON result as a Dataset (bulk data is never asked for)."""
    return Dataset.from_json(data)
