"""Heart, aortic and hiatal findings painted into a real chest CT, from its real anatomy.

Painters take the :class:`Anatomy` of the case (heart, aorta, airway, esophagus labels and
named points on the case grid) as an extra argument; :mod:`findings_real` binds it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from radvoice.data.phantom import findings_mediastinum as fm
from radvoice.data.phantom.context import Chest, HeartGeometry
from radvoice.data.phantom.finding_tools import FindingResult
from radvoice.data.phantom.real_anatomy import (
    AIRWAY,
    AO_ARCH,
    AO_ASC,
    AO_DESC,
    AORTIC_CALCIUM,
    ESOPHAGUS,
    HEART,
    SEGMENT_NAMES,
)
from radvoice.data.phantom.real_warp import Anatomy
from radvoice.data.phantom.shapes import ellipsoid

AORTA = (AO_ASC, AO_ARCH, AO_DESC)
BONE_HU = 250.0


def _empty(hu: np.ndarray) -> FindingResult:
    return FindingResult(np.zeros(hu.shape, bool), {})


def _sampling(chest: Chest) -> tuple[float, float, float]:
    return tuple(chest.grid.spacing[::-1])  # type: ignore[return-value]


def _solid(hu: np.ndarray, anat: Anatomy) -> np.ndarray:
    """Structures a finding must not paint over: bone, heart, aorta, airway, esophagus."""
    return (hu > BONE_HU) | anat.mask(HEART, *AORTA, AIRWAY, ESOPHAGUS, AORTIC_CALCIUM)


def heart_geometry(anat: Anatomy, chest: Chest) -> HeartGeometry | None:
    """An ellipsoid with the heart mask's centre, principal axes and extents (long axis
    towards the apex: left, anterior, inferior)."""
    k, j, i = np.nonzero(anat.mask(HEART))
    if k.size < 20:
        return None
    pts = chest.grid.to_mm(np.stack([k, j, i], axis=1).astype(float))
    centre = pts.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov((pts - centre).T))
    axes = evecs[:, ::-1].T.copy()
    if axes[0] @ np.array([0.62, -0.5, -0.45]) < 0:
        axes[0] = -axes[0]
    axes[2] = np.cross(axes[0], axes[1])
    radii = np.sqrt(np.maximum(evals[::-1], 1.0)) * np.sqrt(5.0)  # uniform ellipsoid: r^2 = 5 var
    return HeartGeometry(centre, radii, axes)


def _thoracic_width(chest: Chest) -> float:
    lung = chest.lungs > 0
    widths = [np.ptp(np.nonzero(lung[k])[1]) + 1 for k in np.flatnonzero(lung.any(axis=(1, 2)))]
    return float(max(widths, default=1)) * chest.grid.spacing[0]


def _heart_width(mask: np.ndarray, chest: Chest) -> float:
    widths = [np.ptp(np.nonzero(mask[k])[1]) + 1 for k in np.flatnonzero(mask.any(axis=(1, 2)))]
    return float(max(widths, default=0)) * chest.grid.spacing[0]


def cardiomegaly(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Elastic dilation of the real heart about its base (it grows to the left, front and
    down) until the cardiothoracic ratio reaches 0.55-0.72; bone and chest wall are kept."""
    heart = anat.mask(HEART)
    if not heart.any():
        return _empty(hu)
    g = chest.grid
    width = _thoracic_width(chest)
    base_ctr = _heart_width(heart, chest) / width
    target = float(rng.uniform(0.55, 0.72))
    f = float(np.clip(target / max(base_ctr, 0.3), 1.08, 1.5))
    k, j, i = np.nonzero(heart)
    lo, hi = np.array([k.min(), j.min(), i.min()]), np.array([k.max(), j.max(), i.max()])
    ext = g.to_mm(hi.astype(float)) - g.to_mm(lo.astype(float))
    centre = g.to_mm(np.array([k.mean(), j.mean(), i.mean()]))
    anchor = centre + np.array([-0.3, 0.3, 0.3]) * ext  # the base: right, back, up
    pad = np.ceil((f - 1) * ext[::-1] / np.asarray(g.spacing[::-1])).astype(int) + 2
    box = tuple(
        slice(max(0, int(a - p)), min(n, int(b + p + 1)))
        for a, b, p, n in zip(lo, hi, pad, g.shape, strict=True)
    )
    z, y, x = g.coords(box)  # type: ignore[arg-type]
    src = [anchor[2] + (z - anchor[2]) / f, anchor[1] + (y - anchor[1]) / f]
    src.append(anchor[0] + (x - anchor[0]) / f)
    origin, spacing = g.origin[::-1], g.spacing[::-1]
    idx = np.stack(
        np.broadcast_arrays(*[(s - o) / d for s, o, d in zip(src, origin, spacing, strict=True)])
    )
    grown = ndimage.map_coordinates(heart.astype(np.float32), idx, order=1) > 0.5
    values = ndimage.map_coordinates(hu, idx, order=1)
    sub = hu[box]
    free = (sub < BONE_HU) & ~anat.mask(*AORTA, AIRWAY, ESOPHAGUS)[box]
    free &= (chest.lungs[box] > 0) | heart[box] | chest.mediastinum[box]
    free &= grown
    sub[free] = values[free]
    mask = np.zeros(hu.shape, bool)
    mask[box] = free
    mask |= heart
    anat.labels[mask & ~heart] = HEART
    chest.lungs[mask] = 0
    chest.mediastinum |= mask
    chest.lungs_changed()
    chest.heart = heart_geometry(anat, chest) or chest.heart
    ctr = _heart_width(mask, chest) / width
    severity = "mild" if ctr < 0.6 else "moderate" if ctr < 0.66 else "marked"
    return FindingResult(mask, {"severity": severity, "ctr": round(ctr, 2), "scale": round(f, 2)})


def pericardial_effusion(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """A fluid rim (5-20 HU) around the real heart, thicker posteriorly (dependent), within
    the heart's slices; it takes the place of pericardial fat and lung, never of solid organs,
    vessels or bone, and leaves a thin epicardial layer."""
    heart = anat.mask(HEART)
    if not heart.any():
        return _empty(hu)
    t = float(
        rng.choice(
            [rng.uniform(4, 10), rng.uniform(10, 20), rng.uniform(20, 30)], p=[0.5, 0.35, 0.15]
        )
    )
    g = chest.grid
    k, j, i = np.nonzero(heart)
    margin = np.ceil((t + 4) / np.asarray(g.spacing[::-1])).astype(int)
    box = tuple(
        slice(max(0, int(a.min() - (m if n_ != 0 else 0))), min(n, int(a.max() + m + 1)))
        for a, m, n, n_ in zip((k, j, i), margin, g.shape, (0, 1, 2), strict=True)
    )
    dist = ndimage.distance_transform_edt(~heart[box], sampling=_sampling(chest))
    yc, ry = float(g.y[0, j, 0].mean()), max(10.0, float(np.ptp(g.y[0, j, 0])) / 2)
    t_loc = t * (0.8 + 0.35 * np.clip((g.y[:, box[1]] - yc) / ry, -1, 1))
    t_loc = t_loc * np.clip((float(g.z[k.max(), 0, 0]) - g.z[box[0]]) / 30.0, 0.1, 1.0)  # taper up
    sub = hu[box]
    fluid = (dist > 1.5) & (dist <= 1.5 + t_loc) & chest.body[box]
    fluid &= ~_solid(sub, anat_box(anat, box)) & (sub > -900) & (sub < -20)  # fat and lung only
    sub[fluid] = float(rng.uniform(5, 20)) + rng.normal(0, 3, int(fluid.sum())).astype(np.float32)
    mask = np.zeros(hu.shape, bool)
    mask[box] = fluid
    chest.lungs[mask] = 0
    chest.mediastinum |= mask
    chest.lungs_changed()
    severity = "small" if t < 10 else "moderate" if t < 20 else "large"
    return FindingResult(mask, {"severity": severity, "thickness_mm": round(t, 1)})


def anat_box(anat: Anatomy, box: tuple[slice, ...]) -> Anatomy:
    """The anatomy cropped to ``box`` (labels only)."""
    return Anatomy(anat.labels[box], anat.points, anat.paths, anat.stats, anat.seed)


def _surface(chest: Chest, inside: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Voxel indices (n, 3) at ``lo``-``hi`` mm outside a mask."""
    k, j, i = np.nonzero(inside)
    box = tuple(slice(max(0, int(a.min()) - 3), int(a.max()) + 4) for a in (k, j, i))
    dist = ndimage.distance_transform_edt(~inside[box], sampling=_sampling(chest))
    band = np.argwhere((dist > lo) & (dist <= hi))
    return band + np.array([b.start for b in box])


def coronary_calcification(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Calcified plaques (700-1500 HU) along one to three coronary arteries, placed on the
    epicardial surface of the real heart (proximal-weighted)."""
    geo = heart_geometry(anat, chest)
    if geo is None:
        return _empty(hu)
    paths = fm.coronary_paths(geo)
    names = list(paths)
    k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
    chosen = [str(c) for c in rng.choice(names, size=k, replace=False, p=[0.5, 0.2, 0.3])]
    count = int(rng.integers(1, 4)) * k
    band = _surface(chest, anat.mask(HEART), 0.5, 4.0)
    band = band[~_solid(hu, anat)[tuple(band.T)]]
    if not len(band):
        return _empty(hu)
    band_mm = chest.grid.to_mm(band.astype(float))
    pts, sizes = [], []
    for _ in range(count):
        path = paths[chosen[int(rng.integers(0, k))]]
        p = path[int(min(len(path) - 1, rng.beta(1.3, 3.0) * len(path)))]
        pts.append(band_mm[int(np.argmin(np.sum((band_mm - p) ** 2, axis=1)))])
        sizes.append(rng.uniform(1.8, 4.0))
    mask = fm._plaques(hu, chest, rng, np.array(pts), np.array(sizes), (700, 1500))
    total = float(np.sum(np.array(sizes) ** 3))
    severity = "mild" if total < 40 else "moderate" if total < 150 else "severe"
    return FindingResult(mask, {"vessels": sorted(chosen), "count": count, "severity": severity})


def arterial_wall_calcification(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Calcified plaques on the wall of the real aorta (arch and descending predominant)."""
    segs = [c for c in AORTA if anat.mask(c).any()]
    if not segs:
        return _empty(hu)
    p = np.array([{AO_ASC: 0.15, AO_ARCH: 0.45, AO_DESC: 0.4}[c] for c in segs])
    walls = {}
    for c in segs:
        m = anat.mask(c)
        walls[c] = np.argwhere(m & ~ndimage.binary_erosion(m, iterations=1))
    count = int(rng.integers(3, 20))
    pts, sizes, where = [], [], set()
    for _ in range(count):
        c = int(rng.choice(segs, p=p / p.sum()))
        wall = walls[c]
        pts.append(chest.grid.to_mm(wall[int(rng.integers(0, len(wall)))].astype(float)))
        sizes.append(rng.uniform(2.0, 4.5))
        where.add(SEGMENT_NAMES[c])
    mask = fm._plaques(hu, chest, rng, np.array(pts), np.array(sizes), (700, 1500))
    severity = "mild" if count < 5 else "moderate" if count < 11 else "extensive"
    return FindingResult(mask, {"segments": sorted(where), "count": count, "severity": severity})


def hiatal_hernia(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Stomach herniated above the diaphragm along the real esophagus, behind (and indenting)
    the heart, sparing aorta, spine and airway: a walled sac of fluid, often with an air-fluid
    level."""
    es = anat.paths.get("esophagus")
    if es is None or not len(es):
        return _empty(hu)
    g = chest.grid
    size = float(rng.uniform(25, 65))
    radii = np.array([size * 0.55, size * 0.45, size * 0.5])
    lung_k = np.flatnonzero((chest.lungs > 0).any(axis=(1, 2)))
    z_floor = float(g.z[lung_k.min(), 0, 0]) if lung_k.size else float(g.z.min())
    dome = anat.points.get("dome_left", np.array([0.0, 0.0, z_floor]))
    z = max(float(dome[2]) - 12.0, z_floor) + 0.5 * radii[2]
    low = es[int(np.argmin(np.abs(es[:, 2] - z)))]
    center = np.array([low[0] + 4.0, low[1] + 0.1 * radii[1], z])
    box, rho = ellipsoid(g, center, radii)
    if box is None:
        return _empty(hu)
    sub = hu[box]
    keep = (sub > BONE_HU) | np.isin(anat.labels[box], (*AORTA, AIRWAY, AORTIC_CALCIUM))
    region = (rho < 1) & ~keep & chest.body[box]  # indents the back of the heart
    anat.labels[box][region] = 0
    return fm.paint_hernia_sac(hu, chest, rng, box, region, rho, center, radii, size)
