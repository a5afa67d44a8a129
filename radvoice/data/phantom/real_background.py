"""Real chest CT as background: masks from the image, elastic and intensity augmentation.

Lungs, body and mediastinum are derived from the HU image alone (thresholds, connected
components and morphology); lobes are approximated by fissure planes. Heart, aorta, airway,
esophagus and node stations come from :mod:`real_anatomy` (once per scan, then warped with
the image), so all 18 findings can be inserted. Findings the scan already shows (annotated
nodule, aortic and coronary calcium, a large heart) are labelled present; a finding stays
unknown (``known`` False) only when the scan leaves it unclear or its anatomy was not found.
``lung1`` is the only training background; ``lung2`` is refused unless ``allow_heldout``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.phantom import findings_real as fr
from radvoice.data.phantom.context import LOBE_NAMES, Chest
from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.lungs import lobe_map
from radvoice.data.phantom.real_anatomy import (
    BackgroundError,
    SourceAnatomy,
    derive_masks,
    extract_anatomy,
)
from radvoice.data.phantom.real_warp import warp_anatomy
from radvoice.labels import PATHOLOGIES

# painted from lungs and pleura alone: insertable into any real background
LUNG_ONLY = frozenset(
    [
        "Emphysema",
        "Atelectasis",
        "Lung nodule",
        "Lung opacity",
        "Pulmonary fibrotic sequela",
        "Pleural effusion",
        "Mosaic attenuation pattern",
        "Consolidation",
        "Interlobular septal thickening",
    ]
)
REAL_SUPPORTED = frozenset(PATHOLOGIES)  # when the anatomy of the scan is found
HELDOUT_NAMES = ("lung2",)
__all__ = ["BackgroundError", "derive_masks", "real_chest", "source_anatomy"]


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[np.ndarray, tuple[float, ...], tuple[float, ...], np.ndarray | None]:
    import SimpleITK as sitk

    try:
        img = sitk.ReadImage(path)
    except RuntimeError:
        raise BackgroundError(f"{Path(path).name}: cannot be read as a CT volume") from None
    if img.GetDimension() != 3:
        raise BackgroundError(f"{Path(path).name}: not a 3-D volume")
    direction = np.asarray(img.GetDirection()).reshape(3, 3)
    if not np.allclose(np.abs(direction), np.eye(3), atol=1e-3):
        raise BackgroundError(
            f"{Path(path).name}: oblique volumes are not supported as backgrounds"
        )
    arr = sitk.GetArrayFromImage(img).astype(np.float32)
    flips = np.sign(np.diag(direction))
    for axis, f in zip((2, 1, 0), flips, strict=True):  # make the array axes point +x, +y, +z
        if f < 0:
            arr = np.flip(arr, axis=axis)
    label_path = Path(path.replace("_image", "_label"))
    label = None
    if label_path != Path(path) and label_path.exists():
        lab = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path))) > 0
        for axis, f in zip((2, 1, 0), flips, strict=True):
            if f < 0:
                lab = np.flip(lab, axis=axis)
        label = np.ascontiguousarray(lab)
    return np.ascontiguousarray(arr), img.GetSpacing(), img.GetOrigin(), label


def _block_factors(
    src_spacing: tuple[float, ...], dst_spacing: tuple[float, ...]
) -> tuple[int, int, int]:
    """Integer down-sampling factor per array axis (k, j, i), as the model grid's block mean."""
    f = [max(1, int(np.floor(d / s))) for s, d in zip(src_spacing, dst_spacing, strict=True)]
    return (f[2], f[1], f[0])


@lru_cache(maxsize=4)
def _antialiased(path: str, factors: tuple[int, int, int]) -> np.ndarray:
    """The source scan box-filtered by ``factors``: sampling it trilinearly onto a coarser grid
    then matches :func:`radvoice.nn.grid.resample_to_grid` (block mean + trilinear), the path a
    real scan takes at inference, instead of point-sampling 0.6 mm noise and vessels."""
    arr = _load(path)[0]
    if factors == (1, 1, 1):
        return arr
    return ndimage.uniform_filter(arr, size=factors, mode="nearest").astype(np.float32)


def _elastic_coords(
    rng: np.random.Generator, grid: Grid, src_spacing: tuple[float, ...], src_center: np.ndarray
) -> np.ndarray:
    """Source voxel coordinates (k, j, i) for every target voxel, with a smooth random warp."""
    nz, ny, nx = grid.shape
    ctrl = rng.normal(0, 1, (3, 4, 5, 5)).astype(np.float32)
    amp = np.array([4.0, 6.0, 6.0]) * rng.uniform(0.5, 1.0)
    disp = np.stack(
        [
            ndimage.zoom(c, (nz / 4, ny / 5, nx / 5), order=1, grid_mode=True, mode="nearest")[
                :nz, :ny, :nx
            ]
            * a
            for c, a in zip(ctrl, amp, strict=True)
        ]
    )
    scale = rng.uniform(0.94, 1.06)
    shift = rng.normal(0, [6.0, 6.0, 8.0])
    z, y, x = grid.z, grid.y, grid.x
    src_x = src_center[0] + shift[0] + x / scale + disp[2]
    src_y = src_center[1] + shift[1] + y / scale + disp[1]
    src_z = src_center[2] + shift[2] + z / scale + disp[0]
    return np.stack([src_z / src_spacing[2], src_y / src_spacing[1], src_x / src_spacing[0]])


@lru_cache(maxsize=4)
def source_anatomy(path: str) -> SourceAnatomy:
    """Heart, aorta, airway, esophagus and stations of a background scan (cached)."""
    arr, spacing, _, _ = _load(path)
    return extract_anatomy(arr, spacing)


def real_chest(
    path: Path, rng: np.random.Generator, grid: Grid | None, allow_heldout: bool = False
) -> tuple[np.ndarray, Chest, dict[str, Any]]:
    """Warp a real CT onto ``grid`` (None: its own grid) and describe it as a :class:`Chest`."""
    name = Path(path).name.split(".")[0].replace("_image", "")
    if any(name.startswith(h) for h in HELDOUT_NAMES) and not allow_heldout:
        raise BackgroundError(
            f"{name} is the held-out evaluation case and never enters training data"
        )
    if not Path(path).exists():
        raise BackgroundError(f"background CT not found: {path}")
    arr, spacing, origin, label = _load(str(path))
    if grid is not None:
        arr = _antialiased(str(path), _block_factors(spacing, grid.spacing))
    nz, ny, nx = arr.shape
    src_center = np.array(
        [(nx - 1) * spacing[0] / 2, (ny - 1) * spacing[1] / 2, (nz - 1) * spacing[2] / 2]
    )
    if grid is None:
        center = tuple(o + c for o, c in zip(origin, src_center, strict=True))
        grid = Grid.centered(arr.shape, tuple(spacing), center)  # type: ignore[arg-type]
    local = Grid.centered(grid.shape, grid.spacing)
    coords = _elastic_coords(rng, local, spacing, src_center)
    hu = ndimage.map_coordinates(arr, coords, order=1, mode="constant", cval=-1024.0).astype(
        np.float32
    )
    hu = hu * float(rng.uniform(0.97, 1.03)) + float(rng.normal(0, 10))
    nodule = None
    if label is not None:
        nodule = (
            ndimage.map_coordinates(label.astype(np.float32), coords, order=1, mode="constant")
            > 0.5
        )
    body, lungs, med = derive_masks(hu, grid)
    lung = lungs > 0
    k, j, i = np.nonzero(lung) if lung.any() else (np.array([0]), np.array([0]), np.array([0]))
    zc, yc = grid.z[:, 0, 0], grid.y[0, :, 0]
    z_lo, z_hi = float(zc[k.min()]), float(zc[k.max()])
    y_mid = float(yc[j].mean())
    b_half = max(40.0, float(yc[j].max() - yc[j].min()) / 2)
    lobes = lobe_map(lungs, grid.x, grid.y, grid.z, y_mid, z_lo + 0.55 * (z_hi - z_lo), b_half)
    lumen = np.where(lung, np.clip((-900.0 - hu) / 100.0, 0, 1), 0).astype(np.float32)
    centre = grid.to_mm(np.array([k.mean(), j.mean(), i.mean()]))
    anat = warp_anatomy(source_anatomy(str(path)), coords, spacing, grid)
    anat.seed = int(rng.integers(0, 2**31))
    half_width = float(np.ptp(grid.x[0, 0, i]) / 2 + grid.spacing[0])
    chest = Chest(
        grid=grid,
        body=body,
        lungs=lungs,
        lobes=lobes,
        mediastinum=med,
        mediastinal_fat=med & (hu < -50) & (hu > -150),
        cavity_wall=body & ~lung & ~med,
        subcutaneous_fat=body & (hu < -50) & (hu > -150) & ~med,
        heart=None,
        landmarks={"cavity_center": centre, **anat.points},
        paths=dict(anat.paths),
        diaphragm_z=np.full(grid.shape[1:], z_lo, np.float32),
        airway_lumen=lumen,
        synthetic=False,
        tissue={"cavity_y": float(centre[1]), "cavity_b": b_half, "cavity_a": half_width},
    )
    chest.heart = fr.heart_geometry(anat, chest)
    present, unclear = fr.background_findings(anat, chest)
    chest.supported = frozenset((LUNG_ONLY | fr.insertable(anat)) - unclear)
    info: dict[str, Any] = {
        "name": name,
        "present": list(present),
        "masks": {n: m for n, (m, _) in present.items()},
        "findings": {n: a for n, (_, a) in present.items()},
        "painters": fr.real_painters(anat),
        "anatomy": anat,
    }
    if nodule is not None and nodule.any():
        info["present"].append("Lung nodule")
        info["masks"]["Lung nodule"] = nodule
        info["findings"]["Lung nodule"] = _nodule_attrs(nodule, chest, float(centre[0]))
        lungs[nodule] = 0
        chest.lungs_changed()
    return hu, chest, info


def _nodule_attrs(nodule: np.ndarray, chest: Chest, x_mid: float) -> dict[str, Any]:
    """Attributes of the annotated nodule of a background scan."""
    g, lobes = chest.grid, chest.lobes
    inside = nodule & (lobes > 0)
    code = np.bincount(lobes[inside], minlength=7).argmax() if inside.any() else 0
    kk, jj, ii = np.nonzero(nodule)
    size = max(
        (np.ptp(ii) + 1) * g.spacing[0],
        (np.ptp(jj) + 1) * g.spacing[1],
        (np.ptp(kk) + 1) * g.spacing[2],
    )
    side = "right" if g.x[0, 0, int(ii.mean())] < x_mid else "left"
    nod = {"size_mm": round(float(size)), "kind": "solid", "side": side}
    nod["lobe"] = LOBE_NAMES.get(int(code), f"{side} lung")
    return {"nodules": [nod], "side": side, "source": "annotated in the background CT"}
