"""Real chest CT as background: masks from the image, elastic and intensity augmentation.

Lungs, body and mediastinum are derived from the HU image alone (thresholds, connected
components and morphology); lobes are approximated by fissure planes. Only the findings whose
painting needs nothing more than lungs and pleura are supported; the others stay unknown for
such cases (``known`` is False), since a real scan may contain them unlabelled. ``lung1`` is
the only training background; ``lung2`` is refused unless ``allow_heldout`` (evaluation).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.phantom.context import LOBE_NAMES, Chest
from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.lungs import lobe_map
from radvoice.errors import RadVoiceError

REAL_SUPPORTED = frozenset(
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
HELDOUT_NAMES = ("lung2",)


class BackgroundError(RadVoiceError):
    """A real background that cannot be used."""


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


def derive_masks(hu: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(body, lungs int8 1=right 2=left, mediastinum)`` from a chest CT in HU."""
    dense = hu > -400
    dense = ndimage.binary_opening(dense, iterations=1)
    lab, n = ndimage.label(dense)
    if n == 0:
        raise BackgroundError("no body found in the background CT")
    sizes = ndimage.sum_labels(dense, lab, index=np.arange(1, n + 1))
    body = lab == (1 + int(np.argmax(sizes)))
    body = np.stack([ndimage.binary_fill_holes(s) for s in body])
    air = (hu < -400) & body
    air = ndimage.binary_opening(air, iterations=1)
    lab, n = ndimage.label(air)
    lungs = np.zeros(hu.shape, np.int8)
    if n:
        sizes = ndimage.sum_labels(air, lab, index=np.arange(1, n + 1))
        order = np.argsort(sizes)[::-1]
        keep = [i + 1 for i in order[:2] if sizes[i] > 0.05 * sizes[order[0]]]
        cx = float(np.mean(np.nonzero(body)[2]))
        for comp in keep:
            m = lab == comp
            mi = float(np.mean(np.nonzero(m)[2]))
            if len(keep) == 1:  # lungs touch: split at the body midline
                ii = np.arange(hu.shape[2])[None, None, :]
                lungs[m & (ii < cx)] = 1
                lungs[m & (ii >= cx)] = 2
            else:
                lungs[m] = 1 if mi < cx else 2
    for side in (1, 2):
        m = lungs == side
        filled = np.stack([ndimage.binary_fill_holes(s) for s in m])
        lungs[filled & (lungs == 0)] = side
    # mediastinum: between the lungs, row by row
    ii = np.arange(hu.shape[2])[None, None, :]
    r_max = np.where(lungs == 1, ii, -1).max(axis=2, keepdims=True)
    l_min = np.where(lungs == 2, ii, 10**6).min(axis=2, keepdims=True)
    med = (ii > r_max) & (ii < l_min) & (r_max >= 0) & (l_min < 10**6) & body
    return body, lungs, med


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
    zd = np.full(grid.shape[1:], z_lo, np.float32)
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
        landmarks={"cavity_center": centre},
        paths={},
        diaphragm_z=zd,
        airway_lumen=lumen,
        supported=REAL_SUPPORTED,
        synthetic=False,
        tissue={"cavity_y": float(centre[1]), "cavity_b": b_half},
    )
    info: dict[str, Any] = {"name": name, "present": [], "masks": {}, "findings": {}}
    if nodule is not None and nodule.any():
        code = (
            np.bincount(lobes[nodule & (lobes > 0)], minlength=7).argmax()
            if (nodule & (lobes > 0)).any()
            else 0
        )
        kk, jj, ii2 = np.nonzero(nodule)
        size = max(
            (np.ptp(ii2) + 1) * grid.spacing[0],
            (np.ptp(jj) + 1) * grid.spacing[1],
            (np.ptp(kk) + 1) * grid.spacing[2],
        )
        side = "right" if grid.x[0, 0, int(ii2.mean())] < centre[0] else "left"
        info["present"].append("Lung nodule")
        info["masks"]["Lung nodule"] = nodule
        info["findings"]["Lung nodule"] = {
            "nodules": [
                {
                    "size_mm": round(float(size)),
                    "kind": "solid",
                    "lobe": LOBE_NAMES.get(int(code), f"{side} lung"),
                    "side": side,
                }
            ],
            "side": side,
            "source": "annotated in the background CT",
        }
        lungs[nodule] = 0
        chest.lungs_changed()
    return hu, chest, info
