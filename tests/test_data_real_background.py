"""Real-CT backgrounds: anatomy derived from the scan, and all 18 findings inserted into it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.real_anatomy import AO_ASC, AO_DESC, HEART
from radvoice.data.phantom.real_background import real_chest
from radvoice.data.reports import POSITIVE
from radvoice.data.synth import generate_case
from radvoice.labels import PATHOLOGIES, PATHOLOGY_INDEX

pytestmark = pytest.mark.realct

SHAPE, SPACING = (48, 112, 112), (3.2, 3.2, 6.0)
NEW = [
    "Medical material",
    "Arterial wall calcification",
    "Cardiomegaly",
    "Pericardial effusion",
    "Coronary artery wall calcification",
    "Hiatal hernia",
    "Lymphadenopathy",
    "Peribronchial thickening",
    "Bronchiectasis",
]


def _centroid(grid: Grid, mask: np.ndarray) -> np.ndarray:
    return grid.to_mm(np.array(np.nonzero(mask)).mean(axis=1))


@pytest.mark.parametrize("name", ["lung1", "lung2"])
def test_derived_anatomy_is_sane(real_ct_dir: Path, name: str) -> None:
    grid = Grid.centered(SHAPE, SPACING)
    path = real_ct_dir / f"{name}_image.nrrd"
    _, chest, info = real_chest(path, np.random.default_rng(0), grid, allow_heldout=True)
    anat = info["anatomy"]
    ml = grid.voxel_volume / 1000
    heart, asc, desc = anat.mask(HEART), anat.mask(AO_ASC), anat.mask(AO_DESC)
    assert 150 < heart.sum() * ml < 1200
    assert 10 < asc.sum() * ml < 150 and 20 < desc.sum() * ml < 250
    right, left = _centroid(grid, chest.lungs == 1), _centroid(grid, chest.lungs == 2)
    h, a, d = _centroid(grid, heart), _centroid(grid, asc), _centroid(grid, desc)
    car = anat.points["carina"]
    assert right[0] < h[0] < left[0]  # heart between the lungs (LPS: +x is left)
    assert h[2] < car[2]  # below the carina
    assert d[1] > h[1] and d[0] > car[0]  # descending aorta behind the heart, left of midline
    assert a[1] < car[1]  # ascending aorta in front of the trachea
    assert anat.points["hilum_right"][0] < car[0] < anat.points["hilum_left"][0]
    assert 0.35 < anat.stats["ctr"] < 0.6
    assert chest.heart is not None and chest.heart.center[2] < car[2]
    assert {"station:subcarinal", "station:left hilar", "sternum"} <= set(anat.points)
    assert chest.supported == frozenset(PATHOLOGIES)  # nothing unclear in these two scans


def _case(real_ct_dir: Path, labels: list[str], index: int = 0):
    return generate_case(
        5,
        index,
        shape=SHAPE,
        spacing=SPACING,
        labels=labels,
        real_background=real_ct_dir / "lung1_image.nrrd",
    )


@pytest.mark.parametrize("name", NEW)
def test_new_finding_changes_the_volume_where_its_mask_says(real_ct_dir: Path, name: str) -> None:
    case, plain = _case(real_ct_dir, [name]), _case(real_ct_dir, [])
    idx = PATHOLOGY_INDEX[name]
    assert case.known[idx] and case.labels[idx] == 1
    mask = case.masks[name]
    changed = np.abs(case.volume.array.astype(int) - plain.volume.array) > 30
    near = ndimage.binary_dilation(mask, iterations=2)
    assert (changed & mask).sum() >= 5
    assert (changed & near).sum() >= 0.9 * changed.sum()  # nothing changed far from the mask
    for other in set(case.masks) - {name}:  # the scan's own findings: the same either way
        assert np.array_equal(case.masks[other], plain.masks[other])
    sentences = {POSITIVE[name](case.findings[name], np.random.default_rng(s)) for s in range(60)}
    assert any(s in case.report.findings for s in sentences)


def test_scan_findings_are_labelled_and_merged(real_ct_dir: Path) -> None:
    plain = _case(real_ct_dir, [])
    assert plain.known.all()
    for name in ("Arterial wall calcification", "Coronary artery wall calcification"):
        assert name in plain.positive  # calcium of lung1 itself
        assert plain.masks[name].any() and plain.findings[name]["source"] == "background CT"
    assert "Cardiomegaly" not in plain.positive  # lung1's heart is not enlarged
    assert "Lymphadenopathy" not in plain.positive
    nodules = _case(real_ct_dir, ["Lung nodule"], index=1).findings["Lung nodule"]["nodules"]
    assert len(nodules) >= 2  # the annotated nodule plus the painted ones, all reported
    assert len(plain.findings["Lung nodule"]["nodules"]) == 1


def test_unclear_scan_findings_stay_unknown(
    real_ct_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from radvoice.data.phantom import findings_real
    from radvoice.data.reports import NEGATIVE

    grid = Grid.centered(SHAPE, SPACING)
    _, chest, info = real_chest(real_ct_dir / "lung1_image.nrrd", np.random.default_rng(0), grid)
    anat = info["anatomy"]
    anat.stats.update(ctr=0.52, metal_ml=0.4)  # a borderline heart and some metal
    _, unclear = findings_real.background_findings(anat, chest)
    assert unclear == {"Cardiomegaly", "Medical material"}
    real = findings_real.background_findings
    monkeypatch.setattr(
        findings_real,
        "background_findings",
        lambda a, c: (real(a, c)[0], {"Cardiomegaly", "Medical material"}),
    )
    for index in range(3):
        case = _case(real_ct_dir, ["Cardiomegaly", "Medical material", "Consolidation"], index)
        for name in ("Cardiomegaly", "Medical material"):
            assert not case.known[PATHOLOGY_INDEX[name]] and name not in case.positive
            assert not any(s in case.report.findings for s in NEGATIVE.get(name, []))
        assert "Consolidation" in case.positive


def test_merged_attributes_keep_both_sources() -> None:
    from radvoice.data.phantom.findings_real import merge_attrs

    scan = {"segments": ["aortic arch"], "count": 4, "severity": "mild", "source": "background CT"}
    painted = {"segments": ["descending aorta"], "count": 9, "severity": "moderate"}
    out = merge_attrs(scan, painted)
    assert out["segments"] == ["aortic arch", "descending aorta"] and out["count"] == 13
    assert out["severity"] == "moderate" and out["source"] == "background CT"
    left = {"nodules": [{"size_mm": 5}], "side": "left"}
    out = merge_attrs(left, {"nodules": [{"size_mm": 12}], "side": "right"})
    assert [n["size_mm"] for n in out["nodules"]] == [12, 5] and out["side"] == "bilateral"
