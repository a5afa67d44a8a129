"""PACS node settings, inline nodes, query building and the series cache (no network)."""

from __future__ import annotations

import pytest

from radvoice.pacs import NodeStore, PacsNode, SeriesCache, StudyQuery, parse_node
from radvoice.pacs.errors import NodeConfigError, PacsError, PacsQueryError


def test_node_store_roundtrip(tmp_path):
    store = NodeStore(tmp_path / "cfg" / "nodes.json")
    assert store.load() == {}
    node = PacsNode("main", ae_title="ORTHANC", host="pacs.local", port=4242,
                    dicomweb_url="http://pacs.local:8042/dicom-web")  # fmt: skip
    store.add(node)
    store.add(PacsNode("web", dicomweb_url="https://x/dicom-web"))
    again = NodeStore(tmp_path / "cfg" / "nodes.json").load()
    assert again["main"] == node and again["main"].has_dimse and again["main"].has_web
    assert not again["web"].has_dimse
    store.remove("web")
    assert set(store.load()) == {"main"}
    with pytest.raises(NodeConfigError, match="no PACS node named"):
        store.remove("web")
    with pytest.raises(NodeConfigError, match="unknown PACS node 'nope' \\(known: main\\)"):
        store.get("nope")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (PacsNode("x"), "needs an AE title"),
        (PacsNode("x", ae_title="A" * 17, host="h", port=1), "invalid AE title"),
        (PacsNode("x", ae_title="A", host="h", port=70000), "invalid port"),
        (PacsNode("x", dicomweb_url="ftp://h"), "must start with http"),
        (PacsNode(" ", dicomweb_url="http://h"), "needs a name"),
    ],
)
def test_node_validation(node, message):
    with pytest.raises(NodeConfigError, match=message):
        node.validate()


def test_unreadable_settings_is_one_line(tmp_path):
    path = tmp_path / "nodes.json"
    path.write_text("{not json")
    with pytest.raises(NodeConfigError, match="unreadable PACS settings"):
        NodeStore(path).load()


def test_inline_nodes():
    node = parse_node("ORTHANC@127.0.0.1:4242")
    assert (node.ae_title, node.host, node.port) == ("ORTHANC", "127.0.0.1", 4242)
    assert parse_node("http://h:8042/dicom-web/").dicomweb_url == "http://h:8042/dicom-web"
    assert parse_node("main") is None


def test_query_dataset_and_qido():
    q = StudyQuery(patient_id="P1", date_from="2024-01-01", date_to="20241231", modality="CT")
    ds = q.to_dataset()
    assert ds.QueryRetrieveLevel == "STUDY" and ds.StudyDate == "20240101-20241231"
    assert ds.ModalitiesInStudy == "CT" and ds.PatientID == "P1"
    assert "NumberOfStudyRelatedInstances" in ds  # a return key
    assert q.to_qido() == {"PatientID": "P1", "StudyDate": "20240101-20241231",
                           "ModalitiesInStudy": "CT"}  # fmt: skip
    assert StudyQuery(date_from="20240101").to_dataset().StudyDate == "20240101-"
    with pytest.raises(PacsQueryError, match="reversed"):
        StudyQuery(date_from="20250101", date_to="20240101").to_dataset()
    with pytest.raises(PacsQueryError, match="YYYYMMDD"):
        StudyQuery(date_from="yesterday").to_qido()
    assert StudyQuery().is_empty() and not q.is_empty()


def test_cache_commit_is_atomic_and_reused(tmp_path):
    cache = SeriesCache(tmp_path)
    assert cache.lookup("1.2", "1.2.3") is None
    tmp = cache.begin("1.2.3")
    (tmp / "a.dcm").write_bytes(b"x")
    assert cache.lookup("1.2", "1.2.3") is None  # not visible until committed
    folder = cache.commit(tmp, "1.2", "1.2.3", {"node": "n"})
    assert cache.lookup("1.2", "1.2.3") == folder and cache.info(folder)["n_files"] == 1
    assert not tmp.exists() and cache.partials() == []
    with pytest.raises(PacsError, match="not a DICOM UID"):
        cache.series_dir("../../etc", "1.2")
