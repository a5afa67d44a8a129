"""DICOM exports without a PACS: the SR and the parametric map validate with dciodvfy and read
back with highdicom; the plain JSON/PNG; bad input gives one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from pacs_support import dciodvfy_errors

from radvoice.export import (
    ExportError,
    FindingsReport,
    build_parametric_map,
    export_results,
    load_source_series,
)
from radvoice.export.findings import model_version
from radvoice.export.pmap import read_parametric_map
from radvoice.imaging import Volume, read_volume, write_dicom_series
from radvoice.labels import PATHOLOGIES


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    rng = np.random.default_rng(3)
    vol = Volume(array=rng.integers(-1000, 400, (6, 24, 20)).astype(np.int16),
                 spacing=(0.8, 0.8, 2.5), origin=(-10.0, -12.0, 40.0))  # fmt: skip
    write_dicom_series(vol, folder, file_names="index", patient_id="RV-EXP",
                       patient_name="Export^Test")  # fmt: skip
    return folder


@pytest.fixture()
def report():
    probs = {k: 0.1 + 0.04 * i for i, k in enumerate(PATHOLOGIES)}
    thr = {k: 0.5 for k in PATHOLOGIES}
    return FindingsReport(probs, thr, model_version(),
                          query={"label": "Pleural effusion", "input": "effusion?"})  # fmt: skip


def test_sr_and_map_validate_and_read_back(series, report, tmp_path):
    import highdicom as hd

    sources = load_source_series(series)
    volume = read_volume(series)
    values = np.linspace(0, 1, volume.array.size, dtype=np.float32).reshape(volume.shape)
    files = export_results(tmp_path, report, sources, {"Emphysema": values}, volume=volume)
    assert dciodvfy_errors(files.sr) == []
    assert dciodvfy_errors(files.maps["Emphysema"]) == []
    sr = hd.sr.srread(files.sr)
    assert (sr.PreliminaryFlag, sr.VerificationFlag) == ("PRELIMINARY", "UNVERIFIED")
    assert sr.PatientID == "RV-EXP" and sr.StudyInstanceUID == sources[0].StudyInstanceUID
    groups = sr.content.get_image_measurement_groups()
    assert [g.finding_type.meaning for g in groups] == list(PATHOLOGIES)
    assert {g.finding_type.scheme_designator for g in groups} == {"SCT", "99RADVOICE"}
    for g in groups:
        label = g.finding_type.meaning
        values_by_name = {m.name.meaning: m.value for m in g.get_measurements()}
        assert values_by_name["Probability"] == pytest.approx(report.probabilities[label])
        assert values_by_name["Operating threshold"] == pytest.approx(0.5)
        (call,) = g.get_qualitative_evaluations()
        assert call.value.meaning == ("Present" if report.present(label) else "Absent")
    assert sum(report.present(k) for k in PATHOLOGIES) not in (0, 18)  # both calls exercised
    texts = {str(e.value) for e in sr.iterall() if e.keyword == "TextValue"}
    assert {report.algorithm_version, report.algorithm_name} <= texts  # in the content tree
    pm = pydicom.dcmread(files.maps["Emphysema"])
    assert pm.FrameOfReferenceUID == sources[0].FrameOfReferenceUID
    assert np.array_equal(read_parametric_map(pm), values)


def test_plain_json_and_png(series, report, tmp_path):
    volume = read_volume(series)
    files = export_results(tmp_path, report, None, None, volume=volume)
    assert files.sr is None and files.maps == {}
    data = json.loads(files.json.read_text())
    assert data["query"]["label"] == "Pleural effusion"
    assert data["findings"][0]["label"] == PATHOLOGIES[-1]  # sorted by probability
    assert sum(f["present"] for f in data["findings"]) == sum(map(report.present, PATHOLOGIES))
    from PIL import Image

    with Image.open(files.png) as img:
        assert img.size[0] > 600
        lo, hi = img.convert("L").getextrema()
        assert hi - lo > 100  # the slice and the text are drawn
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob("*.part"))


def test_bad_input(series, report, tmp_path):
    sources = load_source_series(series)
    with pytest.raises(ExportError, match="not the source series' grid"):
        build_parametric_map(sources, np.zeros((5, 24, 20), np.float32), "Emphysema", "v")
    with pytest.raises(ExportError, match="NaN"):
        build_parametric_map(sources, np.full((6, 24, 20), np.nan, np.float32), "Emphysema", "v")
    with pytest.raises(ExportError, match="no CT image series"):
        load_source_series(tmp_path)
    with pytest.raises(ExportError, match="lack 1 pathologies"):
        FindingsReport({k: 0.1 for k in PATHOLOGIES[1:]}, {k: 0.5 for k in PATHOLOGIES}, "v")
    with pytest.raises(ExportError, match="needs the source DICOM series"):
        export_results(tmp_path / "o", report, None, {"Emphysema": np.zeros((6, 24, 20))})
