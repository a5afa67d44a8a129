"""End to end against a real PACS (a private Orthanc): find, retrieve, classify, store back."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pacs_support import dciodvfy_errors

from radvoice.pacs import SeriesCache, StudyQuery, connect, find_priors, retrieve_series
from radvoice.pacs.retrieve import lookup_series

pytestmark = [pytest.mark.realct, pytest.mark.slow]


@pytest.mark.parametrize("protocol", ["dimse", "web"])
def test_find_by_patient_id(orthanc, pacs_studies, protocol):
    client = connect(orthanc.node(), protocol)
    assert client.echo() >= 0
    studies = {s.study_uid: s for s in client.find_studies(StudyQuery(patient_id=pacs_studies.patient_id))}
    assert {pacs_studies.lung1_study, pacs_studies.lung2_study} <= set(studies)
    lung2 = studies[pacs_studies.lung2_study]
    assert lung2.n_instances == pacs_studies.n_lung2 and "CT" in lung2.modalities
    assert lung2.accession == "ACC-L2"
    by_acc = client.find_studies(StudyQuery(accession="ACC-L1"))
    assert [s.study_uid for s in by_acc] == [pacs_studies.lung1_study]
    in_2025 = client.find_studies(StudyQuery(patient_id=pacs_studies.patient_id, date_from="2025-01-01"))
    assert [s.study_uid for s in in_2025] == [pacs_studies.lung2_study]
    assert client.find_studies(StudyQuery(patient_id="NOBODY-HERE")) == []


def test_priors_are_earlier_chest_cts(orthanc, pacs_studies):
    client = connect(orthanc.node(), "dimse")
    priors = find_priors(client, pacs_studies.patient_id, pacs_studies.lung2_study, "20250302")
    # the head CT of the same patient is not a chest prior; lung2 itself is the open study
    assert [p.study_uid for p in priors] == [pacs_studies.lung1_study]


def test_retrieve_classify_store_back(orthanc, pacs_studies, tmp_path):
    """The issue's must-show: lung2 retrieved with progress, classified, SR + map stored back."""
    import highdicom as hd

    from radvoice.cli.classify import classify
    from radvoice.export import FindingsReport, export_results, load_source_series
    from radvoice.export.pmap import read_parametric_map
    from radvoice.imaging import read_volume
    from radvoice.nn.heatmap import heatmap
    from radvoice.nn.pipeline import RadVoiceModels

    client = connect(orthanc.node(), "dimse")
    series = lookup_series(client, pacs_studies.lung2_study, pacs_studies.lung2_series)
    cache = SeriesCache(tmp_path / "cache")
    seen: list[tuple[int, int]] = []
    got = retrieve_series(client, series, cache, progress=lambda d, n: seen.append((d, n)))
    assert not got.from_cache and got.n_instances == pacs_studies.n_lung2
    assert [d for d, _ in seen] == list(range(1, pacs_studies.n_lung2 + 1))
    assert all(n == pacs_studies.n_lung2 for _, n in seen)
    # a second open reuses the cache: it works even with the PACS unreachable
    dead = connect(orthanc.node(port=1), "dimse")
    again = retrieve_series(dead, series, cache)
    assert again.from_cache and again.path == got.path

    volume = read_volume(got.path)
    original = read_volume(pacs_studies.lung2_folder)
    assert volume.shape == original.shape == (pacs_studies.n_lung2, 512, 512)
    assert np.array_equal(volume.array, original.array)

    models = RadVoiceModels()
    result = classify(models, volume, [("text", "is there a pleural effusion?")])
    report = FindingsReport.from_classify(result)
    label = result["query"]["label"]
    sources = load_source_series(got.path)
    maps = {label: heatmap(volume, label, models=models)}
    files = export_results(tmp_path / "out", report, sources, maps, volume=volume)
    for path in [files.sr, *files.maps.values()]:
        assert dciodvfy_errors(path) == [], path.name

    assert connect(orthanc.node(), "dimse").store([files.datasets[0]]) == 1  # SR by C-STORE
    assert connect(orthanc.node(), "web").store(files.datasets[1:]) == 1  # the map by STOW-RS
    found = {s.modality: s for s in client.find_series(pacs_studies.lung2_study)}
    assert {"CT", "SR"} <= set(found) and len(found) == 3
    sr_series = found["SR"]
    (tmp_path / "sr_back").mkdir()
    assert connect(orthanc.node(), "web").get_series(sr_series, tmp_path / "sr_back") == 1
    (sr_file,) = list((tmp_path / "sr_back").glob("*.dcm"))
    assert dciodvfy_errors(sr_file) == []
    sr = hd.sr.srread(sr_file)
    assert sr.PreliminaryFlag == "PRELIMINARY" and sr.VerificationFlag == "UNVERIFIED"
    assert sr.StudyInstanceUID == pacs_studies.lung2_study and sr.PatientID == pacs_studies.patient_id
    groups = sr.content.get_image_measurement_groups()
    assert len(groups) == 18
    by_finding = {g.finding_type.meaning: g for g in groups}
    g = by_finding[label]
    (prob,) = [m for m in g.get_measurements() if m.name.meaning == "Probability"]
    assert prob.value == pytest.approx(report.probabilities[label], abs=1e-6)
    (call,) = g.get_qualitative_evaluations()
    assert call.value.meaning == ("Present" if report.present(label) else "Absent")
    refs = {r.ReferencedSOPInstanceUID for r in
            sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence}  # fmt: skip
    assert refs == {str(ds.SOPInstanceUID) for ds in sources}
    pm_series = next(s for s in found.values() if s.modality not in ("CT", "SR"))
    (tmp_path / "pm_back").mkdir()
    assert connect(orthanc.node(), "web").get_series(pm_series, tmp_path / "pm_back") == 1
    (pm_file,) = list((tmp_path / "pm_back").glob("*.dcm"))
    assert dciodvfy_errors(pm_file) == []
    pm_ds = pydicom.dcmread(pm_file)
    assert pm_ds.SeriesInstanceUID == pm_series.series_uid
    assert np.array_equal(read_parametric_map(pm_ds), maps[label])
