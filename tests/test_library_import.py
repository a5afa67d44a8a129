"""Importing DICOM folders and the CT-RATE layout; reports CSV matching."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_library_support import HashEmbedder, labels_for, make_volume, report_for

from radvoice.imaging import write_volume
from radvoice.labels import PATHOLOGIES
from radvoice.library.errors import LibraryError
from radvoice.library.importer import (
    attach_reports,
    collect_items,
    import_items,
    read_reports_csv,
)
from radvoice.library.library import CaseLibrary


class RecordingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.means: list[float] = []

    def embed_volume(self, volume):
        self.means.append(float(volume.array.mean()))
        return super().embed_volume(volume)


def _write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_dicom_folder_with_two_series(tmp_path):
    from radvoice.imaging import write_dicom_series

    uids = []
    for s in (1, 2):
        vol = make_volume(s, shape=(6, 16, 16))
        uids.append(vol.meta["SeriesInstanceUID"])
        write_dicom_series(vol, tmp_path / "dicom" / f"series{s}", series_uid=uids[-1])
    items = collect_items([tmp_path / "dicom"])
    assert sorted(i.series_uid for i in items) == sorted(uids)
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        summary = import_items(lib, HashEmbedder(), items)
        assert len(summary.added) == 2 and not summary.failed
        cases = lib.store.list_cases()
        assert sorted(c.series_uid for c in cases) == sorted(uids)
        assert all("Doe" not in c.description for c in cases)
        again = import_items(lib, HashEmbedder(), collect_items([tmp_path / "dicom"]))
        assert again.skipped == 2 and not again.added


def test_ctrate_layout_reads_hu_reports_and_labels(tmp_path):
    pytest.importorskip("radvoice.data.ctrate")
    root = tmp_path / "dataset"
    names = ["train_1_a_1", "train_2_a_1"]
    reports, meta, labels = [], [], []
    for seed, name in enumerate(names):
        vol = make_volume(seed, shape=(8, 16, 16))
        stored = vol.with_array((vol.array.astype(np.int32) + 1024).astype(np.int16))
        write_volume(stored, root / "train" / name[:7] / name[:9] / f"{name}.nii.gz")
        reports.append({"VolumeName": f"{name}.nii.gz", "ClinicalInformation_EN": "",
                        "Technique_EN": "", "Findings_EN": report_for(seed),
                        "Impressions_EN": "Not given."})  # fmt: skip
        meta.append({"VolumeName": f"{name}.nii.gz", "RescaleSlope": "1",
                     "RescaleIntercept": "-1024", "XYSpacing": "[0.8, 0.8]", "ZSpacing": "2.0"})  # fmt: skip
        labels.append({"VolumeName": f"{name}.nii.gz",
                       **dict(zip(PATHOLOGIES, labels_for(seed), strict=True))})  # fmt: skip
    _write_csv(root / "radiology_text_reports" / "train_reports.csv", reports)
    _write_csv(root / "metadata" / "train_metadata.csv", meta)
    _write_csv(root / "multi_abnormality_labels" / "train_predicted_labels.csv", labels)

    items = collect_items([tmp_path])
    assert [i.key for i in items] == names
    emb = RecordingEmbedder()
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        summary = import_items(lib, emb, items)
        assert len(summary.added) == 2, summary.failed
        for seed, case in enumerate(lib.store.list_cases()):
            assert case.report == report_for(seed) and case.labels == labels_for(seed)
            reread = lib.load_volume(case.id)  # re-reading applies the metadata's rescale too
            np.testing.assert_array_equal(reread.array, make_volume(seed, shape=(8, 16, 16)).array)
    expected = [float(make_volume(s, shape=(8, 16, 16)).array.mean()) for s in range(2)]
    np.testing.assert_allclose(emb.means, expected, atol=1e-3)  # HU, not stored values


def test_reports_csv_matching_and_errors(tmp_path):
    for s in range(3):
        write_volume(make_volume(s), tmp_path / "v" / f"scan{s}.nrrd")
    _write_csv(tmp_path / "r.csv", [{"file": "scan1.nrrd", "report": "Emphysema."},
                                    {"file": "other", "report": "x"}])  # fmt: skip
    items = collect_items([tmp_path / "v"])
    assert attach_reports(items, read_reports_csv(tmp_path / "r.csv")) == 1
    assert [i.report for i in items] == ["", "Emphysema.", ""]
    _write_csv(tmp_path / "bad.csv", [{"name": "scan1", "text": "x"}])
    with pytest.raises(LibraryError, match="key columns"):
        read_reports_csv(tmp_path / "bad.csv")
    with pytest.raises(LibraryError, match="cannot read the reports CSV"):
        read_reports_csv(tmp_path / "missing.csv")


def test_unreadable_files_are_reported_not_fatal(tmp_path):
    write_volume(make_volume(0), tmp_path / "v" / "good.nii.gz")
    (tmp_path / "v" / "broken.nii.gz").write_bytes(b"not a nifti")
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        summary = import_items(lib, HashEmbedder(), collect_items([tmp_path / "v"]))
        assert len(summary.added) == 1 and len(summary.failed) == 1
        assert "broken.nii.gz" in summary.failed[0][0] and "\n" not in summary.failed[0][1]


def test_reembed_with_new_models_and_load_volume(tmp_path, capsys, monkeypatch):
    from radvoice.library.reembed import reembed

    for s in range(3):
        vol = make_volume(s)
        vol.meta.clear()
        write_volume(vol, tmp_path / "v" / f"scan{s}.nii.gz")
    old, new = HashEmbedder(), HashEmbedder(name="test-hash-v2", checksum="9" * 64)
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        import_items(lib, old, collect_items([tmp_path / "v"]))
        case_id = lib.store.list_cases()[1].id
        np.testing.assert_array_equal(lib.load_volume(case_id).array, make_volume(1).array)
        summary = reembed(lib, new)
        assert (summary.done, summary.failed) == (3, [])
        assert lib.store.state().model.name == "test-hash-v2"
        assert lib.index("ct").header.model_name == "test-hash-v2"
        hits = lib.search_volume(new, make_volume(1), k=1)
        assert hits[0].case_id == case_id and hits[0].case.model.name == "test-hash-v2"
        with pytest.raises(LibraryError, match="reindex --re-embed"):
            lib.search_volume(old, make_volume(1))
        assert reembed(lib, new).already == 3
