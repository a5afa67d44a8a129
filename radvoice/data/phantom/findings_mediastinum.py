"""Heart, vessel, mediastinal and device findings."""

from __future__ import annotations

import numpy as np

from radvoice.data.phantom.context import Chest, HeartGeometry
from radvoice.data.phantom.finding_tools import FindingResult, side_of, size_mm
from radvoice.data.phantom.shapes import chaikin, ellipsoid, tube_distance

BONE_HU = 300.0


def _not_bone(hu: np.ndarray) -> np.ndarray:
    return hu < BONE_HU


def cardiomegaly(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Enlarge the heart (ellipsoid scaled 1.18-1.45, resting on the diaphragm)."""
    old = chest.heart
    f = float(rng.uniform(1.18, 1.45))
    new = old.scaled(f)
    new.center = old.center + np.array([6.0 * (f - 1) * 4, -2.0, (f - 1) * old.radii[0] * 0.35])
    g = chest.grid
    box, rho = ellipsoid(g, new.center, new.radii + 4.0, new.axes)
    _, rho_h = ellipsoid(g, new.center, new.radii, new.axes, box=box)
    _, rho_old = ellipsoid(g, old.center, old.radii, old.axes, box=box)
    above = g.z[box[0]] > chest.diaphragm_z[None, box[1], box[2]] - 2.0
    sub = hu[box]
    free = _not_bone(sub) & chest.body[box]
    heart_new = (rho_h < 1) & above & free & (rho_old >= 1)
    rim = (rho < 1) & (rho_h >= 1) & above & free & (chest.lungs[box] > 0)
    sub[rim] = -95.0
    blood = chest.tissue.get("blood_hu", 40.0)
    sub[heart_new] = 45.0 if blood < 100 else blood
    mask = np.zeros(hu.shape, bool)
    mask[box] = ((rho_h < 1) & above) | rim
    chest.lungs[mask] = 0
    chest.mediastinum |= mask
    chest.lungs_changed()
    chest.heart = new
    a = chest.tissue.get("cavity_a", 120.0)
    width = size_mm_x(chest, mask[box], box)
    ctr = float(np.clip(width / (2 * a + 20), 0.45, 0.85))
    severity = "mild" if f < 1.26 else "moderate" if f < 1.36 else "marked"
    return FindingResult(mask, {"severity": severity, "ctr": round(ctr, 2), "scale": round(f, 2)})


def size_mm_x(chest: Chest, sub: np.ndarray, box) -> float:
    i = np.nonzero(sub.any(axis=(0, 1)))[0]
    return float((i.max() - i.min() + 1) * chest.grid.spacing[0]) if i.size else 0.0


def pericardial_effusion(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """A fluid rim (5-25 HU) around the heart, thicker posteriorly and inferiorly."""
    h = chest.heart
    t = float(
        rng.choice(
            [rng.uniform(4, 10), rng.uniform(10, 20), rng.uniform(20, 30)], p=[0.5, 0.35, 0.15]
        )
    )
    g = chest.grid
    shell = HeartGeometry(h.center + np.array([0.0, 0.25 * t, -0.2 * t]), h.radii + t, h.axes)
    box, rho_o = ellipsoid(g, shell.center, shell.radii, shell.axes)
    _, rho_h = ellipsoid(g, h.center, h.radii, h.axes, box=box)
    above = g.z[box[0]] > chest.diaphragm_z[None, box[1], box[2]] - 1.0
    sub = hu[box]
    fluid = (rho_o < 1) & (rho_h >= 1) & above & _not_bone(sub) & chest.body[box]
    fluid &= ~(sub < -900)  # keep airway lumen
    sub[fluid] = float(rng.uniform(5, 20)) + rng.normal(0, 3, int(fluid.sum())).astype(np.float32)
    mask = np.zeros(hu.shape, bool)
    mask[box] = fluid
    chest.lungs[mask] = 0
    chest.mediastinum |= mask
    chest.lungs_changed()
    severity = "small" if t < 10 else "moderate" if t < 20 else "large"
    return FindingResult(mask, {"severity": severity, "thickness_mm": round(t, 1)})


def coronary_paths(h: HeartGeometry) -> dict[str, np.ndarray]:
    """LAD, circumflex and RCA as curves on the epicardial surface (mm)."""
    u, _v, _w = h.axes
    ant = np.array([0.0, -1.0, 0.0]) - u * (u @ np.array([0.0, -1.0, 0.0]))
    ant /= np.linalg.norm(ant)
    side = np.cross(u, ant)
    if side[0] > 0:  # make ``side`` point to the patient's right
        side = -side
    r_s = 0.5 * (h.radii[1] + h.radii[2]) + 2.0
    t0 = -0.5
    ring_c = h.center + u * t0 * h.radii[0]
    ring_r = r_s * np.sqrt(1 - t0**2)
    phi_r = np.linspace(0.15, 1.1 * np.pi, 30)  # from anterior over the right to posterior
    rca = ring_c + ring_r * (np.cos(phi_r)[:, None] * ant + np.sin(phi_r)[:, None] * side)
    phi_l = np.linspace(-0.15, -1.0 * np.pi, 30)
    lcx = ring_c + ring_r * (np.cos(phi_l)[:, None] * ant + np.sin(phi_l)[:, None] * side)
    t = np.linspace(t0, 0.92, 40)
    lad = (
        h.center
        + u * (t * h.radii[0])[:, None]
        + (r_s * np.sqrt(1 - t**2))[:, None] * (ant - 0.25 * side)
    )
    return {"left anterior descending": lad, "circumflex": lcx, "right coronary": rca}


def _plaques(
    hu: np.ndarray,
    chest: Chest,
    rng: np.random.Generator,
    pts: np.ndarray,
    sizes: np.ndarray,
    hu_range: tuple[float, float],
) -> np.ndarray:
    mask = np.zeros(hu.shape, bool)
    g = chest.grid
    for p, s in zip(pts, sizes, strict=True):
        box, rho = ellipsoid(g, p, np.array([s, s, s * rng.uniform(1.0, 2.0)]))
        if box is None:
            continue
        inside = rho < 1
        hu[box][inside] = np.maximum(hu[box][inside], rng.uniform(*hu_range))
        mask[box] |= inside
    return mask


def coronary_calcification(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Calcified plaques (600-1500 HU) along one to three coronary arteries, proximal-weighted."""
    paths = coronary_paths(chest.heart)
    names = list(paths)
    k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
    chosen = [str(c) for c in rng.choice(names, size=k, replace=False, p=[0.5, 0.2, 0.3])]
    count = int(rng.integers(1, 4)) * k
    pts, sizes = [], []
    for _ in range(count):
        name = chosen[int(rng.integers(0, k))]
        path = paths[name]
        idx = int(min(len(path) - 1, rng.beta(1.3, 3.0) * len(path)))
        pts.append(path[idx])
        sizes.append(rng.uniform(1.8, 4.0))
    mask = _plaques(hu, chest, rng, np.array(pts), np.array(sizes), (700, 1500))
    total = float(np.sum(np.array(sizes) ** 3))
    severity = "mild" if total < 40 else "moderate" if total < 150 else "severe"
    return FindingResult(mask, {"vessels": sorted(chosen), "count": count, "severity": severity})


def arterial_wall_calcification(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator
) -> FindingResult:
    """Calcified plaques on the aortic wall (arch and descending aorta predominant)."""
    path, radius = chest.paths["aorta"], chest.paths["aorta_radius"]
    n = len(path)
    segs = {
        "ascending aorta": (0, int(0.3 * n)),
        "aortic arch": (int(0.3 * n), int(0.55 * n)),
        "descending aorta": (int(0.55 * n), n - 1),
    }
    count = int(rng.integers(3, 20))
    pts, sizes, where = [], [], set()
    g = chest.grid
    zmin, zmax = float(g.z.min()), float(g.z.max())
    for _ in range(count):
        name = str(rng.choice(list(segs), p=[0.15, 0.45, 0.4]))
        lo, hi = segs[name]
        i = int(rng.integers(lo, max(lo + 1, hi)))
        i = min(i, n - 2)
        c, r = path[i], float(radius[i])
        if not (zmin + 5 < c[2] < zmax - 5):
            continue
        d = path[i + 1] - path[i]
        d /= np.linalg.norm(d) + 1e-9
        a = np.cross(d, [0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.cross(d, [1.0, 0.0, 0.0])
        a /= np.linalg.norm(a)
        b = np.cross(d, a)
        phi = rng.uniform(0, 2 * np.pi)
        pts.append(c + (r - 0.5) * (np.cos(phi) * a + np.sin(phi) * b))
        sizes.append(rng.uniform(2.0, 4.5))
        where.add(name)
    if not pts:
        pts, sizes = [path[n // 2] + np.array([0.0, radius[n // 2] - 0.5, 0.0])], [2.5]
        where.add("aortic arch")
    mask = _plaques(hu, chest, rng, np.array(pts), np.array(sizes), (700, 1500))
    severity = "mild" if len(pts) < 5 else "moderate" if len(pts) < 11 else "extensive"
    return FindingResult(mask, {"segments": sorted(where), "count": len(pts), "severity": severity})


def hiatal_hernia(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Stomach herniated through the hiatus above the diaphragm, behind the heart."""
    es = chest.paths["esophagus"]
    g = chest.grid
    low = es[np.argmin(np.abs(es[:, 2] - (chest.heart.center[2] - 20)))]
    size = float(rng.uniform(25, 65))
    radii = np.array([size * 0.55, size * 0.45, size * 0.5])
    zd = float(chest.landmarks["dome_left"][2]) - 12.0
    center = np.array([low[0] + 4.0, low[1], zd + radii[2] * 0.5])
    box, rho = ellipsoid(g, center, radii)
    _, rho_h = ellipsoid(g, chest.heart.center, chest.heart.radii, chest.heart.axes, box=box)
    aorta = tube_distance(g, chest.paths["aorta"], chest.paths["aorta_radius"])[box] < 1.05
    sub = hu[box]
    region = (rho < 1) & (rho_h >= 0.97) & ~aorta & _not_bone(sub) & chest.body[box]
    return paint_hernia_sac(hu, chest, rng, box, region, rho, center, radii, size)


def paint_hernia_sac(
    hu: np.ndarray,
    chest: Chest,
    rng: np.random.Generator,
    box: tuple[slice, ...],
    region: np.ndarray,
    rho: np.ndarray,
    center: np.ndarray,
    radii: np.ndarray,
    size: float,
) -> FindingResult:
    """Fill ``region`` (inside ``box``) with a walled fluid sac, often with an air-fluid level;
    it becomes mediastinum. Shared by the synthetic and the real-background hernia."""
    g = chest.grid
    sub = hu[box]
    sub[region & (rho >= 0.82)] = 42.0
    inner = region & (rho < 0.82)
    sub[inner] = float(rng.uniform(10, 30))
    if rng.random() < 0.7:
        level = center[2] + rng.uniform(-0.3, 0.4) * radii[2]
        sub[inner & (g.z[box[0]] > level)] = -1000.0
    mask = np.zeros(hu.shape, bool)
    mask[box] = region
    chest.lungs[mask] = 0
    chest.mediastinum |= mask
    chest.lungs_changed()
    kind = "large" if size > 50 else "small" if size < 35 else "moderate"
    return FindingResult(mask, {"size_mm": round(size_mm(chest, mask)), "severity": kind})


STATIONS = {
    "upper right paratracheal": lambda c, ty: (c[0] - 19, ty - 4, c[2] + 48),
    "right lower paratracheal": lambda c, ty: (c[0] - 20, ty - 2, c[2] + 16),
    "left lower paratracheal": lambda c, ty: (c[0] + 19, ty + 3, c[2] + 10),
    "subcarinal": lambda c, ty: (c[0] + 2, ty + 15, c[2] - 20),
    "aortopulmonary window": lambda c, ty: (c[0] + 30, ty - 8, c[2] + 4),
    "prevascular": lambda c, ty: (c[0] + 2, ty - 40, c[2] + 32),
}


def lymphadenopathy(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Enlarged lymph nodes (short axis 10-28 mm) at mediastinal, hilar or axillary stations."""
    car = chest.landmarks["carina"]
    ty = car[1] - 3.0
    places = {name: np.array(f(car, ty)) for name, f in STATIONS.items()}
    places["right hilar"] = chest.landmarks["hilum_right"] + np.array([6.0, 4.0, 4.0])
    places["left hilar"] = chest.landmarks["hilum_left"] + np.array([-6.0, 4.0, 0.0])
    a = chest.tissue.get("cavity_a", 120.0)
    yc = chest.tissue.get("cavity_y", 0.0)
    places["right axillary"] = np.array([-(a + 22.0), yc - 10.0, car[2] + 35])
    places["left axillary"] = np.array([a + 22.0, yc - 10.0, car[2] + 35])
    names = list(places)
    weights = np.array([0.12, 0.18, 0.1, 0.16, 0.1, 0.08, 0.09, 0.09, 0.04, 0.04])
    k = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    chosen = rng.choice(names, size=k, replace=False, p=weights / weights.sum())
    g = chest.grid
    mask = np.zeros(hu.shape, bool)
    largest = 0.0
    for name in chosen:
        short = float(np.clip(rng.lognormal(np.log(14), 0.3), 10.5, 30))
        largest = max(largest, short)
        radii = np.array([short, short * rng.uniform(1.0, 1.3), short * rng.uniform(1.2, 1.6)]) / 2
        center = places[str(name)] + rng.normal(0, 2.0, 3)
        box, rho = ellipsoid(g, center, radii)
        if box is None:
            continue
        sub = hu[box]
        node = (rho < 1) & _not_bone(sub) & (sub > -900) & chest.body[box]
        if str(name).endswith("hilar"):
            node = (rho < 1) & _not_bone(sub) & chest.body[box]
        sub[node] = float(rng.uniform(35, 50))
        mask[box] |= node
    chest.lungs[mask] = 0
    chest.lungs_changed()
    return FindingResult(
        mask, {"stations": sorted(str(c) for c in chosen), "short_axis_mm": round(largest)}
    )


def medical_material(hu: np.ndarray, chest: Chest, rng: np.random.Generator) -> FindingResult:
    """Metal and devices: pacemaker with leads, sternal wires, port catheter or surgical clips."""
    kinds = ["pacemaker", "sternotomy wires", "port catheter", "surgical clips"]
    kind = str(rng.choice(kinds, p=[0.3, 0.3, 0.2, 0.2]))
    g = chest.grid
    mask = np.zeros(hu.shape, bool)
    car = chest.landmarks["carina"]
    a = chest.tissue.get("cavity_a", 120.0)
    yc, b = chest.tissue.get("cavity_y", 0.0), chest.tissue.get("cavity_b", 80.0)
    y_front = yc - b
    fat_pts = chest.subcutaneous_fat

    def in_fat(x: float, z: float) -> np.ndarray:
        k, _j, i = np.clip(
            np.rint(g.to_index(np.array([x, y_front, z]))).astype(int), 0, np.array(g.shape) - 1
        )
        col = np.nonzero(fat_pts[k, : g.shape[1] // 2, i])[0]
        # a pocket on the pectoral fascia
        y = float(g.y[0, col.max(), 0]) - 1.0 if col.size else y_front - 25.0
        return np.array([x, y, z])

    def wire(points: np.ndarray, r: float, value: float) -> None:
        d = tube_distance(g, points, r) < 1.0
        hu[d] = value
        mask[:] |= d

    if kind == "pacemaker":
        gen = in_fat(0.55 * a, car[2] + 55)
        box, rho = ellipsoid(g, gen, np.array([22.0, 5.0, 20.0]))
        if box is not None:
            hu[box][rho < 1] = 3000.0
            mask[box] |= rho < 1
        svc = chest.paths["svc"]
        h = chest.heart
        rv_apex = h.center + h.axes[0] * 0.55 * h.radii[0] - np.array([0.0, 8.0, 0.0])
        lead = np.vstack(
            [
                gen,
                gen + np.array([-30.0, 20.0, 10.0]),
                np.array([-5.0, svc[0][1], car[2] + 40]),
                svc[len(svc) // 2],
                svc[-1],
                h.center + np.array([-20.0, -5.0, 0.0]),
                rv_apex,
            ]
        )
        wire(chaikin(lead, 3), 1.3, 2500.0)
        where = "left infraclavicular generator with leads in the right heart"
    elif kind == "sternotomy wires":
        st = chest.landmarks["sternum"]
        zs = np.sort(rng.uniform(st[2] - 70, st[2] + 35, int(rng.integers(4, 8))))
        for z in zs:
            ring = np.array(
                [
                    [-16.0, st[1] + 8, z],
                    [-18.0, st[1] - 4, z],
                    [0.0, st[1] - 9, z],
                    [18.0, st[1] - 4, z],
                    [16.0, st[1] + 8, z],
                    [-16.0, st[1] + 8, z],
                ]
            )
            wire(ring, 1.2, 3000.0)
        where = "median sternotomy"
    elif kind == "port catheter":
        port = in_fat(-0.55 * a, car[2] + 40)
        box, rho = ellipsoid(g, port, np.array([13.0, 7.0, 13.0]))
        if box is not None:
            hu[box][(rho < 1) & (rho > 0.6)] = 1800.0
            mask[box] |= rho < 1
        svc = chest.paths["svc"]
        wire(
            chaikin(
                np.vstack([port, port + np.array([15.0, 15.0, 25.0]), svc[len(svc) // 3], svc[-2]]),
                3,
            ),
            1.4,
            600.0,
        )
        where = "right chest wall port with catheter tip in the superior vena cava"
    else:
        n = int(rng.integers(2, 7))
        pts = chest.lung_points(rng, n, chest.mediastinum | (chest.lungs > 0))
        for p in pts:
            box, rho = ellipsoid(g, p, np.array([1.5, 1.5, 4.0]))
            if box is not None:
                hu[box][rho < 1] = 3000.0
                mask[box] |= rho < 1
        where = "surgical clips"
    return FindingResult(mask, {"kind": kind, "where": where, "side": side_of(chest, mask)})
