"""PACS faults: down, rejected, unknown AE, timeouts, cut-off and cancelled retrievals, non-CT,
huge series, duplicate stores. Each gives one clear error and leaves no half series behind."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from pacs_support import free_port, store_folder

from radvoice.imaging import Volume, write_dicom_series
from radvoice.pacs import (
    NotCTError,
    PacsConnectionError,
    PacsRejectedError,
    RetrieveCancelled,
    RetrieveError,
    SeriesCache,
    StudyQuery,
    connect,
    retrieve_series,
)
from radvoice.pacs.errors import SeriesTooLargeError
from radvoice.pacs.query import RemoteSeries
from radvoice.pacs.retrieve import lookup_series

pytestmark = [pytest.mark.realct, pytest.mark.slow]


def _assert_cache_clean(cache: SeriesCache, series: RemoteSeries) -> None:
    assert cache.lookup(series.study_uid, series.series_uid) is None
    assert not cache.series_dir(series.study_uid, series.series_uid).exists()
    assert cache.partials() == []


@pytest.fixture()
def silent_server():
    """A TCP server that accepts connections and never says a word (a hung PACS)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_pacs_down(orthanc, protocol):
    port = free_port()
    node = orthanc.node(port=port, dicomweb_url=f"http://127.0.0.1:{port}/dicom-web")
    with pytest.raises(PacsConnectionError, match="cannot reach"):
        connect(node, protocol).echo()


def test_unknown_calling_ae_rejected(orthanc):
    with pytest.raises(PacsRejectedError, match="rejected the association"):
        connect(orthanc.node(calling_ae="STRANGER"), "dimse").find_studies(StudyQuery(patient_id="X"))


def test_wrong_called_ae_rejected(orthanc):
    with pytest.raises(PacsRejectedError):
        connect(orthanc.node(ae_title="NOTORTHANC"), "dimse").echo()


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_timeout(orthanc, silent_server, protocol):
    url = f"http://127.0.0.1:{silent_server}/dicom-web"
    node = orthanc.node(port=silent_server, dicomweb_url=url, timeout_s=1.0)
    t0 = time.monotonic()
    with pytest.raises(PacsConnectionError, match=r"did not answer|timed out"):
        connect(node, protocol).echo()
    assert time.monotonic() - t0 < 30  # gave up, did not hang


def test_cancel_leaves_nothing(orthanc, pacs_studies, tmp_path):
    client = connect(orthanc.node(), "dimse")
    series = lookup_series(client, pacs_studies.lung2_study, pacs_studies.lung2_series)
    cache = SeriesCache(tmp_path / "cache")
    cancel = threading.Event()
    seen = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 10:
            cancel.set()

    with pytest.raises(RetrieveCancelled):
        retrieve_series(client, series, cache, progress=progress, cancel=cancel)
    assert 10 <= max(seen) < pacs_studies.n_lung2
    _assert_cache_clean(cache, series)
    client.echo()  # the PACS is still fine


def test_web_cancel_leaves_nothing(orthanc, pacs_studies, tmp_path):
    client = connect(orthanc.node(), "web")
    series = lookup_series(client, pacs_studies.lung1_study, pacs_studies.lung1_series)
    cache = SeriesCache(tmp_path / "cache")
    cancel = threading.Event()
    with pytest.raises(RetrieveCancelled):
        retrieve_series(client, series, cache, progress=lambda d, n: d == 5 and cancel.set(),
                        cancel=cancel)  # fmt: skip
    _assert_cache_clean(cache, series)


def _cutting_scp(files, cut_after: int):
    """A C-GET SCP that sends ``cut_after`` instances of ``files`` and then aborts."""
    import pydicom
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GetModel

    def on_get(event):
        yield len(files)
        for i, path in enumerate(files):
            if i == cut_after:
                event.assoc.abort()
                return
            yield 0xFF00, pydicom.dcmread(path)

    ae = AE(ae_title="CUTTER")
    ae.add_supported_context(GetModel)
    ae.add_supported_context(CTImageStorage, scu_role=True, scp_role=True)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_GET, on_get)])
    return server, port


def test_retrieval_cut_off_half_way(tmp_path):
    from radvoice.pacs import PacsNode

    vol = Volume(array=np.zeros((8, 16, 16), np.int16), spacing=(1.0, 1.0, 2.0))
    files = write_dicom_series(vol, tmp_path / "src", study_uid="1.2.3.4", series_uid="1.2.3.4.5")
    server, port = _cutting_scp(files, cut_after=4)
    try:
        node = PacsNode("cutter", ae_title="CUTTER", host="127.0.0.1", port=port, timeout_s=5)
        series = RemoteSeries("1.2.3.4", "1.2.3.4.5", modality="CT", n_instances=8)
        cache = SeriesCache(tmp_path / "cache")
        with pytest.raises((RetrieveError, PacsConnectionError), match=r"cut off|dropped"):
            retrieve_series(connect(node), series, cache)
        _assert_cache_clean(cache, series)
    finally:
        server.shutdown()


def test_non_ct_and_huge_series_refused_before_transfer(orthanc, pacs_studies, tmp_path):
    mr = Volume(array=np.zeros((3, 16, 16), np.int16), modality="MR")
    folder = tmp_path / "mr"
    write_dicom_series(mr, folder, patient_id="RV-MR-1", study_uid="1.2.826.0.1.99.1")
    store_folder(orthanc.node(), folder)
    client = connect(orthanc.node(), "dimse")
    (mr_series,) = client.find_series("1.2.826.0.1.99.1")
    cache = SeriesCache(tmp_path / "cache")
    with pytest.raises(NotCTError, match="is MR, not CT"):
        retrieve_series(client, mr_series, cache)
    _assert_cache_clean(cache, mr_series)
    big = lookup_series(client, pacs_studies.lung1_study, pacs_studies.lung1_series)
    with pytest.raises(SeriesTooLargeError, match="48 instances"):
        retrieve_series(client, big, cache, max_instances=20)
    _assert_cache_clean(cache, big)


def test_fewer_instances_than_announced_is_not_cached(orthanc, pacs_studies, tmp_path):
    client = connect(orthanc.node(), "web")
    real = lookup_series(client, pacs_studies.lung1_study, pacs_studies.lung1_series)
    announced = RemoteSeries(real.study_uid, real.series_uid, "CT", n_instances=real.n_instances + 5)
    cache = SeriesCache(tmp_path / "cache")
    with pytest.raises(RetrieveError, match="cut off"):
        retrieve_series(client, announced, cache)
    _assert_cache_clean(cache, announced)


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_duplicate_store(orthanc, tmp_path, protocol):
    import pydicom

    vol = Volume(array=np.zeros((2, 8, 8), np.int16))
    study = f"1.2.826.0.1.77.{1 if protocol == 'dimse' else 2}"
    paths = write_dicom_series(vol, tmp_path / "dup", patient_id="RV-DUP", study_uid=study)
    datasets = [pydicom.dcmread(p) for p in paths]
    client = connect(orthanc.node(), protocol)
    assert client.store(datasets) == 2
    assert client.store(datasets) == 2  # a second store of the same instances is not an error
    (series,) = client.find_series(study)
    assert series.n_instances == 2


def test_stale_partial_from_dead_process_is_removed(tmp_path):
    cache = SeriesCache(tmp_path / "cache")
    stale = cache.root / ".partial" / "1.2.3-999999999-0"
    stale.mkdir(parents=True)
    (stale / "x.dcm").write_bytes(b"half")
    SeriesCache(tmp_path / "cache")
    assert not stale.exists()
