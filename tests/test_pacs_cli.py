"""``radvoice pacs ...``, ``radvoice export`` and ``radvoice library add --pacs`` on a real PACS."""

from __future__ import annotations

import json

import pytest
from pacs_support import free_port

from radvoice.cli.main import main

pytestmark = [pytest.mark.realct, pytest.mark.slow]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def nodes_file(orthanc, tmp_path, capsys):
    path = str(tmp_path / "nodes.json")
    code, out, _ = _run(capsys, "pacs", "nodes", "add", "lab", "--nodes", path, "--ae", "ORTHANC",
                        "--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
                        "--url", orthanc.dicomweb_url, "--timeout", "20")  # fmt: skip
    assert code == 0 and "saved lab" in out
    return path


def test_nodes_echo_find_get(orthanc, pacs_studies, nodes_file, tmp_path, capsys):
    code, out, _ = _run(capsys, "pacs", "nodes", "list", "--nodes", nodes_file)
    assert out.startswith("lab (ORTHANC@127.0.0.1:") and orthanc.dicomweb_url in out
    for protocol, word in (("dimse", "C-ECHO ok"), ("web", "QIDO ping ok")):
        code, out, _ = _run(capsys, "pacs", "echo", "lab", "--nodes", nodes_file, "--protocol", protocol)
        assert code == 0 and word in out
    code, out, _ = _run(capsys, "pacs", "find", "lab", "--nodes", nodes_file, "--patient-id",
                        pacs_studies.patient_id, "--series", "--json")  # fmt: skip
    rows = {r["study_uid"]: r for r in json.loads(out)}
    assert rows[pacs_studies.lung2_study]["series"][0]["series_uid"] == pacs_studies.lung2_series
    assert "patient_name" not in rows[pacs_studies.lung2_study]
    cache = str(tmp_path / "cache")
    args = ["pacs", "get", "lab", "--nodes", nodes_file, "--study-uid", pacs_studies.lung1_study,
            "--series-uid", pacs_studies.lung1_series, "--cache", cache, "--json", "--quiet"]  # fmt: skip
    code, out, _ = _run(capsys, *args)
    first = json.loads(out)
    assert code == 0 and first["n_instances"] == pacs_studies.n_lung1 and not first["from_cache"]
    code, out, _ = _run(capsys, *args)
    assert json.loads(out)["from_cache"] and json.loads(out)["path"] == first["path"]


def test_cli_errors_are_one_line(orthanc, nodes_file, capsys):
    down = f"ORTHANC@127.0.0.1:{free_port()}"
    for argv in (
        ["pacs", "echo", down],
        ["pacs", "echo", "nosuchnode", "--nodes", nodes_file],
        ["pacs", "find", "lab", "--nodes", nodes_file, "--date-from", "last week"],
        ["pacs", "get", "lab", "--nodes", nodes_file, "--study-uid", "1.2.3", "--series-uid", "1.2.3.4"],
        ["pacs", "store", "lab", "--nodes", nodes_file, nodes_file],
    ):
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        assert err.startswith("radvoice: error: ") and err.count("\n") == 1, err


def test_export_and_store_back(orthanc, pacs_studies, nodes_file, tmp_path, capsys):
    """``radvoice export`` on lung1 from the PACS: the SR written and stored by STOW-RS (the
    parametric map path is covered end to end in test_pacs_orthanc)."""
    from pacs_support import dciodvfy_errors

    code, out, _ = _run(capsys, "pacs", "get", "lab", "--nodes", nodes_file, "--study-uid",
                        pacs_studies.lung1_study, "--series-uid", pacs_studies.lung1_series,
                        "--cache", str(tmp_path / "cache"), "--json", "--quiet")  # fmt: skip
    folder = json.loads(out)["path"]
    code, out, err = _run(capsys, "export", folder, "--out", str(tmp_path / "out"), "--store",
                          "lab", "--nodes", nodes_file, "--protocol", "web", "--json")  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    names = sorted(p.rsplit("/", 1)[-1] for p in result["files"])
    assert names == ["findings.json", "findings.png", "findings_sr.dcm"]
    assert result["stored"] == 1
    assert dciodvfy_errors(tmp_path / "out" / "findings_sr.dcm") == []
    code, out, _ = _run(capsys, "pacs", "find", "lab", "--nodes", nodes_file, "--study-uid",
                        pacs_studies.lung1_study, "--series", "--json")  # fmt: skip
    modalities = sorted(s["modality"] for s in json.loads(out)[0]["series"])
    assert modalities == ["CT", "SR"]


def test_library_add_from_pacs_is_resumable(orthanc, pacs_studies, nodes_file, tmp_path, capsys):
    lib = str(tmp_path / "library")
    down = f"ORTHANC@127.0.0.1:{free_port()}"
    code, _, err = _run(capsys, "library", "add", "--library", lib, "--pacs", down,
                        "--patient-id", pacs_studies.patient_id, "--quiet")  # fmt: skip
    assert code == 2 and "cannot reach" in err
    args = ["library", "add", "--library", lib, "--pacs", "lab", "--nodes", nodes_file,
            "--accession", "ACC-L1", "--cache", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert "added 1, already in 0, failed 0" in out
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "added 0, already in 1, failed 0; the library has 1 cases" in out
