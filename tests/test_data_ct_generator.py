"""Synthetic chest CT generator: determinism, tissue HU, each finding where its mask says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from radvoice.data.phantom.anatomy import _Builder
from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.params import PatientParams
from radvoice.data.phantom.shapes import tube_distance
from radvoice.data.phantom.texture import scanner_finish
from radvoice.data.synth import SynthesisError, generate_case
from radvoice.labels import PATHOLOGIES

SMALL = {"shape": (40, 96, 96), "spacing": (3.7, 3.7, 8.0)}


def test_same_seed_same_case_and_different_seed_differs() -> None:
    a = generate_case(11, 3, **SMALL)
    b = generate_case(11, 3, **SMALL)
    c = generate_case(11, 4, **SMALL)
    assert np.array_equal(a.volume.array, b.volume.array)
    assert np.array_equal(a.labels, b.labels)
    assert a.report == b.report
    assert [q.text for q in a.queries] == [q.text for q in b.queries]
    assert a.masks.keys() == b.masks.keys()
    assert all(np.array_equal(a.masks[k], b.masks[k]) for k in a.masks)
    assert not np.array_equal(a.volume.array, c.volume.array)


def test_volume_geometry_and_type() -> None:
    case = generate_case(2, 0, **SMALL)
    vol = case.volume
    assert vol.array.dtype == np.int16
    assert vol.shape == SMALL["shape"]
    assert vol.spacing == SMALL["spacing"]
    assert np.allclose(vol.direction, np.eye(3))
    assert "PatientName" not in vol.meta


@pytest.mark.parametrize("seed", [0, 5])
def test_tissue_hu_ranges(seed: int) -> None:
    grid = Grid.centered((48, 128, 128), (2.8, 2.8, 6.0))
    rng = np.random.default_rng(seed)
    builder = _Builder(rng, grid, PatientParams.sample(rng))
    hu, chest = builder.build()
    hu = scanner_finish(hu, grid, np.random.default_rng(1), 12.0)
    lung = ndimage.binary_erosion(chest.lungs > 0, iterations=2)
    assert -900 < np.median(hu[lung]) < -760
    fat = ndimage.binary_erosion(chest.subcutaneous_fat & ~(hu > 0), iterations=1)
    assert fat.sum() > 500
    assert -135 < np.median(hu[fat]) < -60
    wall = chest.body & ~chest.subcutaneous_fat & ~builder.cavity & (builder.e > 14)
    wall = ndimage.binary_erosion(wall, iterations=1)
    assert wall.sum() > 500
    assert 15 < np.median(hu[wall]) < 80  # muscle
    trachea = tube_distance(grid, builder.trachea_path, 9.0) < 0.4
    trachea &= grid.z > chest.landmarks["carina"][2] + 15
    assert trachea.sum() > 5
    assert np.median(hu[trachea]) < -850
    spine = builder.vertebra[None] & np.ones(grid.shape, bool)
    assert np.percentile(hu[spine], 95) > 350  # cortical bone
    assert 80 < np.median(hu[spine]) < 400  # marrow and discs
    outside = ~ndimage.binary_dilation(chest.body, iterations=3) & (hu < -500)
    assert np.median(hu[outside]) < -950


@pytest.mark.parametrize("name", PATHOLOGIES)
def test_each_finding_changes_the_volume_inside_its_mask(name: str) -> None:
    base = generate_case(21, 1, labels=[], **SMALL)
    case = generate_case(21, 1, labels=[name], **SMALL)
    assert case.positive == [name]
    mask = case.masks[name]
    assert mask.any()
    diff = np.abs(case.volume.array.astype(np.int32) - base.volume.array) > 40
    assert diff.any()
    near = ndimage.binary_dilation(mask, iterations=3)
    assert diff[near].sum() / diff.sum() > 0.9  # changes are concentrated in the mask
    assert diff[mask].mean() > 0.15  # and the mask really changed


def test_finding_mask_extents_are_reported() -> None:
    case = generate_case(4, 2, labels=["Lung nodule", "Pleural effusion"], **SMALL)
    ext = case.extents()
    for name in ("Lung nodule", "Pleural effusion"):
        z0, z1 = ext[name]["z_mm"]
        assert z0 <= z1
        assert ext[name]["voxels"] == int(case.masks[name].sum())


def test_nodule_attributes_match_the_volume() -> None:
    case = generate_case(8, 0, labels=["Lung nodule"])  # the model grid, 2.8 x 2.8 x 5 mm
    nod = case.findings["Lung nodule"]["nodules"]
    k, j, i = np.nonzero(case.masks["Lung nodule"])
    x = case.volume.index_to_lps(np.stack([i, j, k], 1))[:, 0]
    sides = {n["side"] for n in nod}
    assert ("right" in sides) == bool((x < 0).any())
    assert ("left" in sides) == bool((x > 0).any())
    assert 4 <= nod[0]["size_mm"] <= 30
    if nod[0]["kind"] != "part-solid" and nod[0]["size_mm"] >= 8:
        assert np.max(case.volume.array[case.masks["Lung nodule"]]) > -100  # dense, not lung


def test_bad_requests_are_clear_errors() -> None:
    with pytest.raises(SynthesisError, match="unknown finding"):
        generate_case(0, 0, labels=["Pneumothorax"], **SMALL)
    with pytest.raises(SynthesisError):
        generate_case(0, 0, resolution="huge", **SMALL)
    with pytest.raises(SynthesisError):
        generate_case(-1, 0, **SMALL)


def test_label_prevalence_is_ctrate_like() -> None:
    from radvoice.data.cooccurrence import PREVALENCE
    from radvoice.data.label_stats import case_labels

    labels = case_labels(0, 3000)
    assert np.all(np.abs(labels.mean(0) - PREVALENCE) < 0.035)
    normal = np.mean(labels.sum(1) == 0)
    assert 0.08 < normal < 0.25
    corr = np.corrcoef(labels.T.astype(float))
    i, j = (
        PATHOLOGIES.index("Arterial wall calcification"),
        PATHOLOGIES.index("Coronary artery wall calcification"),
    )
    assert corr[i, j] > 0.3
