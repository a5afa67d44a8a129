"""PACS access (Qt-free): configured nodes, C-ECHO/C-FIND/C-GET/C-STORE and DICOMweb, a series cache.

``connect(node)`` gives a client with ``echo``, ``find_studies``, ``find_series``,
``get_series`` and ``store``; ``retrieve_series`` fetches one series into the cache (reused
by a second open) and ``find_priors`` lists a patient's earlier chest CTs.
"""

from radvoice.pacs.cache import SeriesCache
from radvoice.pacs.client import PacsClient, connect
from radvoice.pacs.errors import (
    NotCTError,
    PacsConnectionError,
    PacsError,
    PacsRejectedError,
    RetrieveCancelled,
    RetrieveError,
)
from radvoice.pacs.nodes import NodeStore, PacsNode, parse_node
from radvoice.pacs.priors import find_priors
from radvoice.pacs.query import RemoteSeries, StudyInfo, StudyQuery
from radvoice.pacs.retrieve import RetrievedSeries, retrieve_series

__all__ = [
    "NodeStore",
    "NotCTError",
    "PacsClient",
    "PacsConnectionError",
    "PacsError",
    "PacsNode",
    "PacsRejectedError",
    "RemoteSeries",
    "RetrieveCancelled",
    "RetrieveError",
    "RetrievedSeries",
    "SeriesCache",
    "StudyInfo",
    "StudyQuery",
    "connect",
    "find_priors",
    "parse_node",
    "retrieve_series",
]
