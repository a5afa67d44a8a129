"""``library add`` with DICOM objects that are not CT volumes: reported per file, the rest goes on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dicom_corpus import corpus_file, retyped, small_ct
from test_library_support import HashEmbedder

from radvoice.cli.main import main
from radvoice.imaging import write_dicom_series
from radvoice.library import embedder as embedder_module
from radvoice.library.importer import collect_items, import_items
from radvoice.library.library import CaseLibrary

CR_LINE = (
    "RG1_UNCI.dcm: a CR projection radiograph (Computed Radiography Image Storage), not a CT volume"
)


@pytest.fixture
def test_models(monkeypatch):
    emb = HashEmbedder()
    monkeypatch.setattr(embedder_module, "load_shipped_embedder", lambda: emb)
    return emb


def _study(root: Path) -> Path:
    """A CT series beside a CR radiograph, an SR and a PET series."""
    write_dicom_series(small_ct(6), root / "ct", series_uid="1.2.826.0.1.99.7")
    (root / "cr").mkdir(parents=True)
    shutil.copy(corpus_file("RG1_UNCI.dcm"), root / "cr")
    (root / "sr").mkdir()
    shutil.copy(corpus_file("test-SR.dcm"), root / "sr")
    retyped(root / "pet", "1.2.840.10008.5.1.4.1.1.128", "PT", n=2)
    return root


def test_import_keeps_the_ct_and_lists_the_rest(tmp_path: Path) -> None:
    items = collect_items([_study(tmp_path / "study")])
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        summary = import_items(lib, HashEmbedder(), items)
        assert len(summary.added) == 1 and summary.failed == []
        assert lib.store.list_cases()[0].series_uid == "1.2.826.0.1.99.7"
    reasons = sorted(reason for _, reason in summary.refused)
    assert len(reasons) == 3 and all(r.endswith(", not a CT volume") for r in reasons)
    assert reasons[0] == CR_LINE
    assert any("a PET image" in r and "2 files" in r for r in reasons), reasons
    assert any(r.startswith("test-SR.dcm: a structured report") for r in reasons), reasons


def test_cli_reports_each_and_exits_0_when_ct_was_added(tmp_path, test_models, capsys) -> None:
    study = _study(tmp_path / "study")
    argv = ["library", "add", str(study), "--library", str(tmp_path / "lib"), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "added 1, already in 0, failed 0, not CT 3; the library has 1 cases" in out.out
    skipped = [line for line in out.err.splitlines() if line.startswith("radvoice: skipped: ")]
    assert len(skipped) == 3 and f"radvoice: skipped: {CR_LINE}" in skipped


def test_cli_on_a_cr_file_alone_exits_2_with_one_line(tmp_path, monkeypatch, capsys) -> None:
    def no_models():
        raise AssertionError("no models are needed to refuse a radiograph")

    monkeypatch.setattr(embedder_module, "load_shipped_embedder", no_models)
    cr = Path(shutil.copy(corpus_file("RG1_UNCI.dcm"), tmp_path))
    assert main(["library", "add", str(cr), "--library", str(tmp_path / "lib"), "--quiet"]) == 2
    out = capsys.readouterr()
    assert out.err.splitlines() == [f"radvoice: error: {CR_LINE}"]
    assert "added 0, already in 0, failed 0, not CT 1" in out.out
