"""One interface over DIMSE and DICOMweb: ``connect(node)``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydicom.dataset import Dataset

from radvoice.pacs.nodes import PacsNode
from radvoice.pacs.query import RemoteSeries, StudyInfo, StudyQuery


class PacsClient(Protocol):
    """What the CLI, the library importer and the study browser use."""

    node: PacsNode

    def echo(self) -> float: ...

    def find_studies(self, query: StudyQuery) -> list[StudyInfo]: ...

    def find_series(self, study_uid: str) -> list[RemoteSeries]: ...

    def get_series(
        self,
        series: RemoteSeries,
        dest: Path,
        progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> int: ...

    def store(self, datasets: Sequence[Dataset]) -> int: ...


def connect(node: PacsNode, protocol: Literal["auto", "dimse", "web"] = "auto") -> PacsClient:
    """A client for ``node``: DIMSE when configured (``auto``), else DICOMweb."""
    node.validate()
    use_web = protocol == "web" or (protocol == "auto" and not node.has_dimse)
    if use_web:
        from radvoice.pacs.dicomweb import WebClient

        return WebClient(node)
    from radvoice.pacs.dimse import DimseClient

    return DimseClient(node)
