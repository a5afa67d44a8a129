"""Parenchymal, airway and pleural findings painted into the lungs."""

from __future__ import annotations

import numpy as np

from radvoice.data.phantom.context import LOBE_NAMES, LOWER_LOBES, UPPER_LOBES, Chest
from radvoice.data.phantom.finding_tools import (
    FindingResult,
    blend,
    lobe_at,
    lobes_of,
    lobulated_ball,
    side_of,
    size_mm,
    splat_spheres,
)
from radvoice.data.phantom.shapes import ellipsoid, noise_field, splat_segments, tube_distance


def _side_choice(rng: np.random.Generator, p_bilateral: float) -> str:
    if rng.random() < p_bilateral:
        return "bilateral"
    return "right" if rng.random() < 0.55 else "left"


def _zone_weight(chest: Chest, zone: str) -> np.ndarray:
    """Per-slice weight for 'upper', 'lower' or 'diffuse' predominance, shape (nz, 1, 1)."""
    lung_z = np.nonzero((chest.lungs > 0).any(axis=(1, 2)))[0]
    z = np.arange(chest.grid.shape[0])
    if lung_z.size == 0 or zone == "diffuse":
        return np.ones((z.size, 1, 1), np.float32)
    t = np.clip((z - lung_z.min()) / max(1, int(np.ptp(lung_z))), 0, 1)
    w = t**1.5 if zone == "upper" else (1 - t) ** 1.5
    return (0.05 + w).astype(np.float32)[:, None, None]


def _weighted_points(
    chest: Chest, rng: np.random.Generator, n: int, where: np.ndarray, zone: str
) -> np.ndarray:
    idx = np.flatnonzero(where)
    if idx.size == 0:
        return np.zeros((0, 3))
    w = np.broadcast_to(_zone_weight(chest, zone), where.shape).ravel()[idx].astype(float)
    pick = rng.choice(idx, size=n, p=w / w.sum())
    kji = np.stack(np.unravel_index(pick, where.shape), axis=1) + rng.uniform(-0.5, 0.5, (n, 3))
    return chest.grid.to_mm(kji)


def _lung_of(chest: Chest, side: str) -> np.ndarray:
    return chest.lung(side)


def pleural_effusion(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Dependent crescent of fluid (0-20 HU) with a meniscus along the lateral chest wall."""
    side = _side_choice(rng, 0.4)
    severity = str(rng.choice(["small", "moderate", "large"], p=[0.5, 0.35, 0.15]))
    depth = {"small": (8, 20), "moderate": (20, 40), "large": (40, 70)}[severity]
    g = chest.grid
    mask = np.zeros(hu.shape, bool)
    sides = ["right", "left"] if side == "bilateral" else [side]
    for s in sides:
        lung = chest.lung(s)
        if not lung.any():
            continue
        D = float(rng.uniform(*depth))
        if side == "bilateral" and s == sides[1]:
            D *= float(rng.uniform(0.5, 1.0))
        ypost = np.where(lung, g.y, -1e9).max(axis=1, keepdims=True)
        pd = ypost - g.y
        kz = np.nonzero(lung.any(axis=(1, 2)))[0]
        z_base = float(g.z[kz.min(), 0, 0])
        height = 3.2 * D + 30.0
        f = np.clip(1 - (g.z - z_base) / height, 0, 1) ** 0.8
        fluid = lung & (pd < D * f)
        fluid |= (
            lung
            & (chest.pleural_depth < 0.22 * D * f)
            & (g.y > chest.tissue.get("cavity_y", 0) - 20)
        )
        mask |= fluid
    val = float(rng.uniform(2, 18))
    hu[mask] = val + rng.normal(0, 2.0, int(mask.sum())).astype(np.float32)
    chest.lungs[mask] = 0
    chest.lungs_changed()
    return FindingResult(mask, {"side": side, "severity": severity})


def emphysema(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Low-attenuation areas (< -950 HU): centrilobular (upper), paraseptal or panlobular."""
    kind = str(rng.choice(["centrilobular", "paraseptal", "panlobular"], p=[0.6, 0.3, 0.1]))
    severity = str(rng.choice(["mild", "moderate", "severe"], p=[0.5, 0.35, 0.15]))
    frac = {"mild": 0.04, "moderate": 0.1, "severe": 0.2}[severity]
    lung = chest.lungs > 0
    g = chest.grid
    n_vox = int(lung.sum())
    if kind == "panlobular":
        lobes = np.isin(chest.lobes, LOWER_LOBES)
        field = noise_field(rng, hu.shape, g.spacing, 20.0)
        region = (
            lobes & (field > np.quantile(field[lobes], 1 - min(0.9, 4 * frac)))
            if lobes.any()
            else lobes
        )
        alpha = region.astype(np.float32)
        zone = "lower"
    else:
        if kind == "centrilobular":
            radii_rng, where, zone = (2.5, 6.0), lung, "upper"
        else:
            radii_rng, where, zone = (4.0, 10.0), lung & (chest.pleural_depth < 7.0), "upper"
        r = rng.uniform(*radii_rng, size=4000)
        vol_each = 4 / 3 * np.pi * r**3
        n = int(np.clip(frac * n_vox * g.voxel_volume / np.mean(vol_each), 5, 4000))
        pts = _weighted_points(chest, rng, n, where, zone)
        alpha = splat_spheres(g, pts, r[:n])
        region = lung & (alpha > 0.35)
    target = -975.0 + rng.normal(0, 8, hu.shape).astype(np.float32)
    paren = region & (hu < -650)
    blend(hu, np.clip(alpha * 1.5, 0, 1), target, paren)
    mask = paren
    return FindingResult(
        mask, {"kind": kind, "severity": severity, "zone": zone, "side": side_of(chest, mask)}
    )


def mosaic_attenuation(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Geographic patches of lower attenuation next to denser lung (lobular borders)."""
    lung = chest.lungs > 0
    g = chest.grid
    field = noise_field(rng, hu.shape, g.spacing, float(rng.uniform(18, 30)))
    thr = float(rng.uniform(-0.2, 0.4))
    low = lung & (field > thr)
    high = lung & ~low
    d = float(rng.uniform(70, 120))
    paren_low = low & (hu < -600)
    paren_high = high & (hu < -600)
    hu[paren_low] -= d
    hu[paren_high] += d * 0.5
    np.maximum(hu, -1000.0, out=hu)
    mask = paren_low | paren_high
    extent = "diffuse" if low.sum() > 0.4 * lung.sum() else "patchy"
    return FindingResult(
        mask,
        {
            "side": side_of(chest, mask),
            "extent": extent,
            "low_fraction": round(float(paren_low.sum()) / max(1, int(mask.sum())), 2),
        },
    )


def _bronchi_in(
    chest: Chest, lobes: list[int], min_lumen: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, ends, radii = [], [], []
    for tree in chest.bronchi.values():
        mid = 0.5 * (tree.starts + tree.ends)
        kji = np.rint(chest.grid.to_index(mid)).astype(int)
        kji = np.clip(kji, 0, np.asarray(chest.grid.shape) - 1)
        codes = chest.lobes[kji[:, 0], kji[:, 1], kji[:, 2]]
        keep = np.isin(codes, lobes) & (tree.radii >= min_lumen) & (tree.generation >= 1)
        starts.append(tree.starts[keep])
        ends.append(tree.ends[keep])
        radii.append(tree.radii[keep])
    if not starts:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(radii)


def _lung_box(chest: Chest) -> tuple[slice, slice, slice]:
    k, j, i = np.nonzero(chest.lungs > 0)
    if k.size == 0:
        return (slice(0, 1), slice(0, 1), slice(0, 1))
    return tuple(slice(int(a.min()), int(a.max()) + 1) for a in (k, j, i))  # type: ignore[return-value]


def _pick_lobes(rng: np.random.Generator, chest: Chest, prefer_lower: bool) -> list[int]:
    present = [c for c in range(1, 7) if (chest.lobes == c).any()]
    if not present:
        return []
    w = np.array([2.5 if (c in LOWER_LOBES and prefer_lower) else 1.0 for c in present])
    k = int(min(len(present), rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2])))
    return [int(c) for c in rng.choice(present, size=k, replace=False, p=w / w.sum())]


def bronchiectasis(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Dilated, non-tapering bronchi (lumen 1.5-2.5x the artery: signet ring) in some lobes."""
    lobes = _pick_lobes(rng, chest, prefer_lower=True)
    s, e, r = _bronchi_in(chest, lobes, 0.7)
    g = chest.grid
    ratio = float(rng.uniform(1.6, 2.5))
    lumen = np.maximum(r / 0.75 * ratio, 2.2)
    outer = lumen + np.maximum(1.0, 0.25 * lumen)
    box = _lung_box(chest)
    fo = np.zeros(hu.shape, np.float32)
    fl = np.zeros(hu.shape, np.float32)
    fo[box] = splat_segments(g, s, e, outer, box)
    fl[box] = splat_segments(g, s, e, lumen, box)
    lung = chest.lungs > 0
    fw = np.clip(fo - fl, 0, 1)
    before = hu.copy()
    blend(hu, fw, 45.0, lung)
    blend(hu, fl, -1000.0, lung)
    mask = np.abs(hu - before) > 10.0
    kind = "cylindrical" if ratio < 2.0 else "varicose"
    names = lobes_of(chest, mask, min_frac=0.05) or [LOBE_NAMES[c] for c in lobes]
    return FindingResult(mask, {"lobes": names, "kind": kind, "side": side_of(chest, mask)})


def peribronchial_thickening(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator
) -> FindingResult:
    """Thickened bronchial walls (wall about half the lumen diameter) in some or all lobes."""
    diffuse = rng.random() < 0.5
    lobes = list(range(1, 7)) if diffuse else _pick_lobes(rng, chest, prefer_lower=True)
    s, e, r = _bronchi_in(chest, lobes, 1.0)
    g = chest.grid
    outer = r * float(rng.uniform(2.0, 2.6)) + 1.0
    box = _lung_box(chest)
    fo = np.zeros(hu.shape, np.float32)
    fl = np.zeros(hu.shape, np.float32)
    fo[box] = splat_segments(g, s, e, outer, box)
    fl[box] = splat_segments(g, s, e, r, box)
    lung = chest.lungs > 0
    fw = np.clip(fo - fl, 0, 1)
    before = hu.copy()
    blend(hu, fw, 50.0, lung & (hu < 0))
    mask = np.abs(hu - before) > 10.0
    return airway_result(chest, mask, diffuse, lobes)


def airway_result(chest: Chest, mask: np.ndarray, diffuse: bool, lobes: list[int]) -> FindingResult:
    """Attributes of a bronchial finding: the lobes it touches ("both lungs" when diffuse)."""
    names = (
        ["both lungs"]
        if diffuse
        else (lobes_of(chest, mask, min_frac=0.05) or [LOBE_NAMES[c] for c in lobes])
    )
    return FindingResult(mask, {"lobes": names, "diffuse": diffuse, "side": side_of(chest, mask)})


def interlobular_septal_thickening(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator
) -> FindingResult:
    """A fine polygonal network of thickened septa in the subpleural lung (basal predominance)."""
    g = chest.grid
    lung = chest.lungs > 0
    f = noise_field(rng, hu.shape, g.spacing, float(rng.uniform(9, 14)))
    width = float(rng.uniform(0.18, 0.26))
    lines = np.exp(-((f / width) ** 2))
    zone = str(rng.choice(["lower", "diffuse"], p=[0.7, 0.3]))
    periph = lung & (chest.pleural_depth < float(rng.uniform(12, 22)))
    w = _zone_weight(chest, zone)
    alpha = lines * np.clip(w / w.max() * 1.5, 0, 1) * 0.75
    alpha = np.where(alpha > 0.2, alpha, 0.0).astype(np.float32)
    before = hu.copy()
    blend(hu, np.clip(alpha * 1.3, 0, 1), -60.0, periph & (hu < -500))
    region = np.abs(hu - before) > 10.0
    return FindingResult(region, {"zone": zone, "side": side_of(chest, region)})


def pulmonary_fibrotic_sequela(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator
) -> FindingResult:
    """Parenchymal bands (linear scars reaching the pleura) with some reticulation."""
    g = chest.grid
    lung = chest.lungs > 0
    zone = str(rng.choice(["upper", "lower", "diffuse"], p=[0.4, 0.4, 0.2]))
    n = int(rng.integers(1, 6))
    anchors = _weighted_points(chest, rng, n, lung & (chest.pleural_depth < 4.0), zone)
    mask = np.zeros(hu.shape, bool)
    centre = chest.landmarks.get("cavity_center", np.zeros(3))
    for a in anchors:
        inward = centre - a
        inward[2] = rng.normal(0, 0.3) * np.linalg.norm(inward[:2])
        inward /= np.linalg.norm(inward) + 1e-9
        length = float(rng.uniform(20, 55))
        bend = rng.normal(0, 5, 3)
        pts = np.array([a - 3 * inward, a + inward * length * 0.5 + bend, a + inward * length])
        d = tube_distance(g, pts, np.array([float(rng.uniform(2.0, 3.5))] * 3))
        band = (d < 1.0) & lung
        hu[band] = np.maximum(hu[band], float(rng.uniform(-150, 10)))
        mask |= band
    if rng.random() < 0.5:
        f = noise_field(rng, hu.shape, g.spacing, 7.0)
        ret = (
            lung
            & (chest.pleural_depth < 10.0)
            & (np.abs(f) < 0.15)
            & (_zone_weight(chest, zone) > 0.5)
        )
        blend(hu, np.full(hu.shape, 0.6, np.float32), -250.0, ret & (hu < -500))
        mask |= ret
    names = lobes_of(chest, mask, min_frac=0.1)
    return FindingResult(
        mask, {"lobes": names, "zone": zone, "count": n, "side": side_of(chest, mask)}
    )


def lung_opacity(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Ground-glass opacity (-700 to -450 HU, vessels still visible), patchy or peripheral."""
    g = chest.grid
    lung = chest.lungs > 0
    pattern = str(rng.choice(["patchy", "peripheral", "focal"], p=[0.45, 0.3, 0.25]))
    n = {"patchy": int(rng.integers(3, 9)), "peripheral": int(rng.integers(4, 12)), "focal": 1}[
        pattern
    ]
    where = lung & (chest.pleural_depth < 20) if pattern == "peripheral" else lung
    pts = chest.lung_points(rng, n, where)
    radii = rng.uniform(8, 22 if pattern != "focal" else 18, size=len(pts))
    alpha = splat_spheres(g, pts, radii)
    shape_noise = noise_field(rng, hu.shape, g.spacing, 10.0)
    alpha = np.clip(alpha * (0.75 + 0.45 * shape_noise), 0, 1)
    tex = noise_field(rng, hu.shape, g.spacing, 6.0)
    target = float(rng.uniform(-640, -480)) + 50 * tex
    a = np.clip((alpha - 0.1) * 1.3, 0, 1) ** 1.5
    before = hu.copy()
    blend(hu, a, target, lung & (hu < target))
    mask = np.abs(hu - before) > 10.0
    names = lobes_of(chest, mask)
    attrs = {"pattern": pattern, "lobes": names, "side": side_of(chest, mask)}
    if pattern == "focal":
        attrs["size_mm"] = round(size_mm(chest, mask))
    return FindingResult(mask, attrs)


def consolidation(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Dense airspace opacification (20-50 HU) confined to a lobe, with air bronchograms."""
    g = chest.grid
    lobe = _pick_lobes(rng, chest, prefer_lower=True)[:1]
    if not lobe:
        return FindingResult(np.zeros(hu.shape, bool), {})
    in_lobe = chest.lobes == lobe[0]
    near_pleura = in_lobe & (chest.pleural_depth < 20.0)
    c = chest.lung_points(rng, 1, near_pleura if near_pleura.any() else in_lobe)[0]
    radius = float(rng.uniform(18, 45))
    mask = np.zeros(hu.shape, bool)
    for k in range(3):  # an amorphous union of overlapping lobulated balls
        ck = c + (rng.normal(0, 0.45 * radius, 3) if k else 0.0)
        box, rho = lobulated_ball(g, rng, ck, radius * (1.0 if k == 0 else 0.7), 0.1)
        if box is not None:
            mask[box] |= (rho < 1) & in_lobe[box]
    main_size = size_mm(chest, mask)
    if rng.random() < 0.3:  # a second focus elsewhere
        c2 = chest.lung_points(rng, 1, chest.lungs > 0)[0]
        box2, rho2 = lobulated_ball(g, rng, c2, radius * 0.6, 0.25)
        if box2 is not None:
            mask[box2] |= (rho2 < 1) & (chest.lungs[box2] > 0)
    val = float(rng.uniform(20, 45))
    air = chest.airway_lumen if chest.airway_lumen is not None else np.zeros(hu.shape, np.float32)
    hu[mask] = val + rng.normal(0, 6, int(mask.sum())).astype(np.float32)
    bronchogram = mask & (air > 0.25)
    hu[bronchogram] = val + air[bronchogram] * (-1000.0 - val)
    names = lobes_of(chest, mask)
    return FindingResult(
        mask,
        {
            "lobes": names,
            "side": side_of(chest, mask),
            "size_mm": round(main_size),
            "air_bronchograms": bool(bronchogram.any()),
        },
    )


def atelectasis(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Plate-like subsegmental bands in the lower zones, or dependent subpleural collapse."""
    g = chest.grid
    lung = chest.lungs > 0
    kind = str(rng.choice(["linear", "dependent"], p=[0.6, 0.4]))
    mask = np.zeros(hu.shape, bool)
    lower = np.isin(chest.lobes, (*LOWER_LOBES, 2, 6))
    if kind == "linear":
        n = int(rng.integers(1, 4))
        for c in _weighted_points(chest, rng, n, lower & (chest.pleural_depth > 4), "lower"):
            length = float(rng.uniform(25, 60))
            thick = float(rng.uniform(2.5, 4.5))
            tilt = rng.normal(0, 0.35)
            yaw = rng.uniform(0, np.pi)
            u = np.array([np.cos(yaw), np.sin(yaw), tilt])
            u /= np.linalg.norm(u)
            v = np.cross(u, [0.0, 0.0, 1.0])
            v /= np.linalg.norm(v) + 1e-9
            w = np.cross(u, v)
            box, rho = ellipsoid(
                g, c, np.array([length / 2, length / 4, thick / 2]), np.stack([u, v, w])
            )
            if box is None:
                continue
            band = (rho < 1) & lung[box]
            hu[box][band] = float(rng.uniform(-120, 20))
            mask[box] |= band
    else:
        ypost = np.where(lung, g.y, -1e9).max(axis=1, keepdims=True)
        depth = float(rng.uniform(4, 11))
        zw = _zone_weight(chest, "lower")
        band = lung & lower & (ypost - g.y < depth * np.clip(zw / zw.max() * 1.4, 0, 1))
        blend(hu, np.full(hu.shape, 0.75, np.float32), -80.0, band)
        mask |= band
    names = lobes_of(chest, mask, min_frac=0.1)
    return FindingResult(mask, {"kind": kind, "lobes": names, "side": side_of(chest, mask)})


def lung_nodule(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """One to four nodules (4-30 mm): solid, part-solid or calcified, any lobe."""
    g = chest.grid
    lung = chest.lungs > 0
    n = int(rng.choice([1, 2, 3, 4], p=[0.6, 0.22, 0.12, 0.06]))
    mask = np.zeros(hu.shape, bool)
    nodules = []
    for _ in range(n):
        d = float(np.clip(rng.lognormal(np.log(8), 0.5), 4, 30))
        kind = str(rng.choice(["solid", "part-solid", "calcified"], p=[0.75, 0.15, 0.1]))
        where = lung & (chest.pleural_depth > d / 2 + 1) if rng.random() < 0.8 else lung
        if not where.any():
            where = lung
        pts = chest.lung_points(rng, 1, where)
        if not len(pts):
            break
        c = pts[0]
        box, rho = lobulated_ball(g, rng, c, d / 2, 0.15 if d > 10 else 0.05)
        if box is None:
            continue
        inside = (rho < 1) & lung[box]
        sub = hu[box]
        if not inside.any():  # smaller than a voxel: partial volume in the nearest voxel
            k0, j0, i0 = np.clip(np.rint(g.to_index(c)).astype(int), 0, np.array(g.shape) - 1)
            if chest.lungs[k0, j0, i0] == 0:
                continue
            frac = min(1.0, np.pi / 6 * d**3 / g.voxel_volume)
            hu[k0, j0, i0] += frac * (30.0 - hu[k0, j0, i0])
            mask[k0, j0, i0] = True
        elif kind == "solid":
            sub[inside] = float(rng.uniform(15, 55))
        elif kind == "calcified":
            sub[inside] = float(rng.uniform(250, 700))
        else:
            sub[inside] = np.maximum(sub[inside], float(rng.uniform(-600, -450)))
            sub[inside & (rho < 0.45)] = float(rng.uniform(10, 40))
        mask[box] |= inside
        code = lobe_at(chest, c)
        nodules.append(
            {
                "size_mm": round(d),
                "kind": kind,
                "lobe": LOBE_NAMES.get(code, "lung"),
                "side": "right" if c[0] < 0 else "left",
            }
        )
    nodules.sort(key=lambda x: -x["size_mm"])
    return FindingResult(mask, {"nodules": nodules, "side": side_of(chest, mask)})


__all__ = [
    "UPPER_LOBES",
    "atelectasis",
    "bronchiectasis",
    "consolidation",
    "emphysema",
    "interlobular_septal_thickening",
    "lung_nodule",
    "lung_opacity",
    "mosaic_attenuation",
    "peribronchial_thickening",
    "pleural_effusion",
    "pulmonary_fibrotic_sequela",
]
