"""DIMSE client (pynetdicom): C-ECHO, study/series C-FIND, per-series C-GET, C-STORE."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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
from radvoice.pacs.query import RemoteSeries, StudyInfo, StudyQuery, series_dataset

Progress = Callable[[int, int], None]  # (instances received, instances expected or 0)

# SOP classes a CT series may come as (C-GET needs them proposed with the SCP role)
RETRIEVE_SOP_CLASSES = (
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture (rejected later unless it is CT)
)
_STATUS_PENDING = (0xFF00, 0xFF01)


def _quiet_pynetdicom() -> None:
    """pynetdicom logs every failed association; the user gets one line from us instead."""
    import logging

    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)


def _port_open(host: str, port: int, timeout: float) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=min(timeout, 5.0)):
            return True
    except OSError:
        return False


def _status(ds: Dataset | None) -> int:
    return int(getattr(ds, "Status", -1)) if ds is not None else -1


class DimseClient:
    """Talks to one node over DIMSE; every call opens (and closes) its own association."""

    def __init__(self, node: PacsNode) -> None:
        if not node.has_dimse:
            raise PacsConnectionError(f"PACS node {node.name!r} has no DIMSE (AE/host/port) settings")
        self.node = node
        _quiet_pynetdicom()

    def _ae(self):  # -> pynetdicom.AE
        from pynetdicom import AE

        ae = AE(ae_title=self.node.calling_ae)
        t = self.node.timeout_s
        ae.acse_timeout = t
        ae.dimse_timeout = t
        ae.network_timeout = t
        ae.connection_timeout = t
        ae.maximum_pdu_size = 0  # unlimited: fewer PDUs per slice
        return ae

    @contextmanager
    def _association(self, ae, ext_neg=None, evt_handlers=None) -> Iterator:
        n = self.node
        t0 = time.monotonic()
        assoc = ae.associate(
            n.host, n.port, ae_title=n.ae_title, ext_neg=ext_neg, evt_handlers=evt_handlers
        )
        if not assoc.is_established:
            self._raise_failed(assoc, time.monotonic() - t0)
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _raise_failed(self, assoc, elapsed: float) -> None:
        n = self.node
        if assoc.is_rejected:
            raise PacsRejectedError(
                f"PACS {n.name} rejected the association (calling AE {n.calling_ae!r}, "
                f"called AE {n.ae_title!r}): is RadVoice configured there?"
            )
        if elapsed >= 0.9 * n.timeout_s:
            raise PacsConnectionError(f"PACS {n.name} did not answer within {n.timeout_s:g} s")
        if not _port_open(n.host, n.port, n.timeout_s):
            raise PacsConnectionError(
                f"cannot reach PACS {n.name} at {n.host}:{n.port} (down or wrong port)"
            )
        raise PacsRejectedError(f"PACS {n.name} aborted the association request")

    def _check_alive(self, assoc, what: str) -> None:
        if assoc.is_aborted or not assoc.is_established:
            raise PacsConnectionError(f"PACS {self.node.name} dropped the connection during {what}")

    # -- verification -------------------------------------------------------------------------
    def echo(self) -> float:
        """C-ECHO; returns the round trip in seconds."""
        from pynetdicom.sop_class import Verification

        ae = self._ae()
        ae.add_requested_context(Verification)
        t0 = time.perf_counter()
        with self._association(ae) as assoc:
            status = assoc.send_c_echo()
            if _status(status) != 0:
                self._check_alive(assoc, "C-ECHO")
                raise PacsConnectionError(f"PACS {self.node.name} did not answer C-ECHO")
        return time.perf_counter() - t0

    # -- queries ------------------------------------------------------------------------------
    def _find(self, identifier: Dataset, what: str) -> list[Dataset]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FindModel

        ae = self._ae()
        ae.add_requested_context(FindModel)
        out: list[Dataset] = []
        with self._association(ae) as assoc:
            for status, ident in assoc.send_c_find(identifier, FindModel):
                code = _status(status)
                if code in _STATUS_PENDING and ident is not None:
                    out.append(ident)
                elif code == 0:
                    break
                else:
                    self._check_alive(assoc, what)
                    if code == -1:
                        raise PacsConnectionError(f"PACS {self.node.name} did not answer {what}")
                    raise PacsQueryError(f"PACS {self.node.name} refused {what} (status 0x{code:04X})")
        return out

    def find_studies(self, query: StudyQuery) -> list[StudyInfo]:
        found = self._find(query.to_dataset(), "the study query")
        return [StudyInfo.from_dataset(ds) for ds in found]

    def find_series(self, study_uid: str) -> list[RemoteSeries]:
        found = self._find(series_dataset(study_uid), "the series query")
        return [RemoteSeries.from_dataset(study_uid, ds) for ds in found]

    # -- retrieval ----------------------------------------------------------------------------
    def get_series(
        self,
        series: RemoteSeries,
        dest: Path,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> int:
        """C-GET one series into ``dest`` (one file per instance); returns the count received.

        ``cancel`` set during the transfer aborts the association (:class:`RetrieveCancelled`).
        """
        from pynetdicom import build_role, evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

        ae = self._ae()
        ae.add_requested_context(GetModel)
        roles = []
        for uid in RETRIEVE_SOP_CLASSES:
            ae.add_requested_context(uid)
            roles.append(build_role(uid, scp_role=True))
        expected = series.n_instances or 0
        received = [0]
        cancelled = [False]

        def on_store(event) -> int:
            if cancel is not None and cancel.is_set():
                cancelled[0] = True
                return 0xA700  # refused; the requesting thread aborts the association
            sop_uid = event.request.AffectedSOPInstanceUID
            with open(dest / f"{sop_uid}.dcm", "wb") as fh:
                fh.write(event.encoded_dataset())
            received[0] += 1
            if progress is not None:
                progress(received[0], expected)
            return 0x0000

        ident = Dataset()
        ident.QueryRetrieveLevel = "SERIES"
        ident.StudyInstanceUID = series.study_uid
        ident.SeriesInstanceUID = series.series_uid
        n = self.node
        failed = 0
        handlers = [(evt.EVT_C_STORE, on_store)]
        with self._association(ae, ext_neg=roles, evt_handlers=handlers) as assoc:
            for status, _ in assoc.send_c_get(ident, GetModel):
                code = _status(status)
                if cancel is not None and cancel.is_set():
                    cancelled[0] = True
                    assoc.abort()
                    break
                if code in _STATUS_PENDING:
                    continue
                failed = int(getattr(status, "NumberOfFailedSuboperations", 0) or 0)
                if code == -1 and not cancelled[0]:  # no final response: the link went down
                    raise RetrieveError(
                        f"retrieval from {n.name} was cut off after {received[0]} of "
                        f"{expected or '?'} instances"
                    )
                if code not in (0x0000, 0xB000) and not cancelled[0]:
                    self._check_alive(assoc, "the retrieval")
                    raise RetrieveError(f"PACS {n.name} refused the retrieval (status 0x{code:04X})")
            aborted = assoc.is_aborted
        if cancelled[0] or (cancel is not None and cancel.is_set()):
            raise RetrieveCancelled("retrieval cancelled")
        if aborted and received[0] < max(expected, 1):
            raise RetrieveError(
                f"retrieval from {n.name} was cut off after {received[0]} of {expected or '?'} instances"
            )
        if failed:
            raise RetrieveError(f"PACS {n.name} failed to send {failed} instances")
        return received[0]

    # -- store --------------------------------------------------------------------------------
    def store(self, datasets: Sequence[Dataset]) -> int:
        """C-STORE each dataset (one association); returns how many were accepted."""
        if not datasets:
            return 0
        ae = self._ae()
        for sop, ts in dict.fromkeys(
            (str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)) for ds in datasets
        ):
            ae.add_requested_context(sop, ts)
        stored = 0
        with self._association(ae) as assoc:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                code = _status(status)
                if code == -1:
                    self._check_alive(assoc, "the store")
                    raise StoreError(f"PACS {self.node.name} did not answer C-STORE")
                if code != 0 and not 0xB000 <= code <= 0xBFFF:
                    raise StoreError(
                        f"PACS {self.node.name} refused to store {ds.SOPClassUID.name} "
                        f"(status 0x{code:04X})"
                    )
                stored += 1
        return stored
