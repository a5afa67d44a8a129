"""Real-background findings: registry, nodes, devices, airways and the scan's own findings.

The painters take the real :class:`Anatomy` (heart, aorta, airway, esophagus labels and
named points on the case grid) as an extra argument; :func:`real_painters` binds it so they
fit the ``(hu, chest, rng)`` painter signature, in the synthetic painting order. The
bronchial findings reuse the synthetic tree tools on bronchial trees grown from the real
hila into the real lungs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.phantom import findings_lung as fl
from radvoice.data.phantom.context import Chest
from radvoice.data.phantom.finding_tools import FindingResult, blend
from radvoice.data.phantom.findings import PAINTERS, Painter
from radvoice.data.phantom.findings_real_heart import (
    AORTA,
    _empty,
    _solid,
    arterial_wall_calcification,
    cardiomegaly,
    coronary_calcification,
    heart_geometry,
    hiatal_hernia,
    pericardial_effusion,
)
from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.real_anatomy import (
    AORTIC_CALCIUM,
    CARDIAC_CALCIUM,
    HEART,
    SEGMENT_NAMES,
)
from radvoice.data.phantom.real_warp import Anatomy
from radvoice.data.phantom.shapes import chaikin, ellipsoid, splat_segments, tube_distance
from radvoice.data.phantom.trees import grow_tree, offset_tree

__all__ = ["background_findings", "heart_geometry", "insertable", "merge_attrs", "real_painters"]


STATION_WEIGHTS = {
    "upper right paratracheal": 0.12,
    "right lower paratracheal": 0.18,
    "left lower paratracheal": 0.1,
    "subcarinal": 0.16,
    "aortopulmonary window": 0.1,
    "prevascular": 0.08,
    "right hilar": 0.09,
    "left hilar": 0.09,
    "right axillary": 0.04,
    "left axillary": 0.04,
}


def lymphadenopathy(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Enlarged nodes (short axis 10-30 mm) near the real stations: each sits where its ball
    holds the most fat (hilar: fat or lung), in the mediastinum for mediastinal stations,
    off heart, aorta, airway, esophagus and bone."""
    places = {
        n: anat.points[f"station:{n}"] for n in STATION_WEIGHTS if f"station:{n}" in anat.points
    }
    if not places:
        return _empty(hu)
    names = list(places)
    w = np.array([STATION_WEIGHTS[n] for n in names])
    k = int(min(len(names), rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15])))
    chosen = [str(c) for c in rng.choice(names, size=k, replace=False, p=w / w.sum())]
    g = chest.grid
    solid = _solid(hu, anat) | _bone(hu)
    fat = (hu > -200) & (hu < -30) & chest.body & ~solid & (chest.lungs == 0)
    med = ndimage.binary_dilation(chest.mediastinum, iterations=2)
    mask = np.zeros(hu.shape, bool)
    stations, largest = [], 0.0
    fallback = [n for n in ("subcarinal", "right lower paratracheal") if n in places]
    for name in [*chosen, *fallback]:
        if name in fallback and stations:
            break
        short = float(np.clip(rng.lognormal(np.log(14), 0.3), 10.5, 30))
        radii = np.array([short, short * rng.uniform(1.0, 1.3), short * rng.uniform(1.2, 1.6)]) / 2
        if name.endswith("hilar"):
            room = (fat | (chest.lungs > 0)) & ~solid
        elif name.endswith("axillary"):
            room = fat & ~med
        else:
            room = fat & med
        center = _best_spot(g, room, places[name], 25.0, short) + rng.normal(0, 1.0, 3)
        box, rho = ellipsoid(g, center, radii)
        if box is None:
            continue
        node = (rho < 1) & ~solid[box] & chest.body[box] & (room[box] | (hu[box] > -30))
        if (node & room[box]).sum() * g.voxel_volume < 0.3 * np.pi / 6 * short**3:
            continue  # too little fat (or lung) here for the node to show
        sub = hu[box]
        sub[node] = float(rng.uniform(35, 50)) + rng.normal(0, 4, int(node.sum())).astype(
            np.float32
        )
        mask[box] |= node
        stations.append(name)
        largest = max(largest, short)
    chest.lungs[mask] = 0
    chest.lungs_changed()
    return FindingResult(mask, {"stations": sorted(stations), "short_axis_mm": round(largest)})


def _bone(hu: np.ndarray) -> np.ndarray:
    """Bone with its marrow: > 200 HU with enclosed holes filled, slice by slice."""
    return np.stack([ndimage.binary_fill_holes(s) for s in hu > 200])


def _best_spot(g: Grid, room: np.ndarray, p: np.ndarray, radius: float, size: float) -> np.ndarray:
    """The point within ``radius`` mm of ``p`` whose ``size`` mm ball holds most ``room``."""
    box = g.box(p - radius, p + radius)
    if box is None:
        return p
    width = np.maximum(1, np.rint(size / np.asarray(g.spacing[::-1]))).astype(int)
    score = ndimage.uniform_filter(room[box].astype(np.float32), size=width, mode="constant")
    if score.max() <= 0:
        return p
    kji = np.array(np.unravel_index(int(np.argmax(score)), score.shape), float)
    return g.to_mm(kji + np.array([b.start for b in box]))


def medical_material(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Pacemaker (pocket on the left pectoral fascia, lead through the superior vena cava into
    the right ventricle), sternotomy wires around the real sternum, a right chest port with
    its catheter in the superior vena cava, or surgical clips."""
    kinds = ["pacemaker", "sternotomy wires", "port catheter", "surgical clips"]
    kind = str(rng.choice(kinds, p=[0.3, 0.3, 0.2, 0.2]))
    g = chest.grid
    mask = np.zeros(hu.shape, bool)
    car, st = anat.points["carina"], anat.points["sternum"]
    a = chest.tissue.get("cavity_a", 120.0)
    svc, heart = anat.paths["svc"], chest.heart

    def metal(box, inside: np.ndarray, value: float) -> None:
        if box is not None:
            hu[box][inside] = value
            mask[box] |= inside

    def wire(points: np.ndarray, r: float, value: float) -> None:
        d = tube_distance(g, points, r) < 1.0
        hu[d] = value
        mask[:] |= d

    if kind in ("pacemaker", "port catheter") and heart is not None:
        left = kind == "pacemaker"
        pocket = _pocket(hu, chest, car[0] + (0.5 if left else -0.5) * a, car[2] + 30)
        radii = np.array([22.0, 4.0, 20.0]) if left else np.array([13.0, 7.0, 13.0])
        box, rho = ellipsoid(g, pocket, radii)
        if box is not None:
            inside = ((rho < 1) if left else (rho < 1) & (rho > 0.6)) & chest.body[box]
            metal(box, inside, 3000.0 if left else 1800.0)
        entry = np.array([car[0] + (25.0 if left else -25.0), svc[0][1], car[2] + 40])
        if left:
            apex = heart.center + heart.axes[0] * 0.55 * heart.radii[0] - np.array([0, 8.0, 0])
            ra = heart.center + np.array([-20.0, -5.0, 0.0])
            lead = np.vstack([pocket, entry, svc[len(svc) // 2], svc[-1], ra, apex])
            wire(chaikin(lead, 3), 1.3, 2500.0)
            where = "left infraclavicular generator with leads in the right heart"
        else:
            wire(chaikin(np.vstack([pocket, entry, svc[len(svc) // 3], svc[-2]]), 3), 1.4, 600.0)
            where = "right chest wall port with catheter tip in the superior vena cava"
    elif kind == "sternotomy wires":
        kind = "sternotomy wires"
        zs = np.sort(rng.uniform(st[2] - 70, st[2] + 35, int(rng.integers(4, 8))))
        ring = np.array([[-16.0, 8, 0], [-18.0, -4, 0], [0.0, -9, 0], [18.0, -4, 0], [16.0, 8, 0]])
        for z in zs:
            centre = _sternum_at(hu, chest, np.array([st[0], st[1], z]))
            if centre is not None:
                loop = centre + ring
                wire(np.vstack([loop, loop[:1]]), 1.2, 3000.0)
        where = "median sternotomy"
    else:
        kind = "surgical clips"
        for p in chest.lung_points(
            rng, int(rng.integers(2, 7)), chest.mediastinum | (chest.lungs > 0)
        ):
            box, rho = ellipsoid(g, p, np.array([1.5, 1.5, 4.0]))
            metal(box, rho < 1, 3000.0)
        where = "surgical clips"
    return FindingResult(mask, {"kind": kind, "where": where})


def _sternum_at(hu: np.ndarray, chest: Chest, p: np.ndarray) -> np.ndarray | None:
    """Centre of the sternum on the slice of ``p`` (bone near the midline at the front)."""
    g = chest.grid
    k, _, i = np.rint(g.to_index(p)).astype(int)
    if not 0 <= k < g.shape[0]:
        return None
    half = int(round(15 / g.spacing[0]))
    cols = slice(max(0, i - half), i + half + 1)
    rows = np.flatnonzero(chest.body[k, :, i])
    if not rows.size:
        return None
    front = slice(int(rows.min()), int(rows.min() + round(50 / g.spacing[1])))
    j, ii = np.nonzero(hu[k, front, cols] > 200)
    if not j.size:
        return None
    return g.to_mm(np.array([k, j.mean() + front.start, ii.mean() + cols.start], float))


def _pocket(hu: np.ndarray, chest: Chest, x: float, z: float) -> np.ndarray:
    """A subcutaneous device pocket: just in front of the first muscle under the skin."""
    g = chest.grid
    k, _, i = np.clip(
        np.rint(g.to_index(np.array([x, 0.0, z]))).astype(int), 0, np.array(g.shape) - 1
    )
    rows = np.flatnonzero(chest.body[k, :, i])
    if not rows.size:
        return np.array([x, float(chest.tissue.get("cavity_y", 0.0)), z])
    skin = int(rows.min())
    deep = np.flatnonzero(hu[k, skin + 2 :, i] > -30)
    fascia = skin + 2 + int(deep[0]) if deep.size else skin + int(round(12 / g.spacing[1]))
    y = max(float(g.y[0, fascia, 0]) - 6.0, float(g.y[0, skin, 0]) + 6.0)
    return np.array([x, y, z])


def grow_bronchi(chest: Chest, anat: Anatomy) -> None:
    """Bronchial trees grown from the real hila into the real lungs (as in the phantom:
    beside an arterial tree, lumen 0.68-0.82 of the artery), once per chest."""
    if chest.bronchi:
        return
    rng = np.random.default_rng(anat.seed)
    for side, code in (("right", 1), ("left", 2)):
        root = anat.points.get(f"hilum_{side}")
        pts = chest.lung_points(rng, 700, chest.lungs == code)
        if root is None or len(pts) < 4:
            continue
        art = grow_tree(rng, root, pts, root_radius=8.5)
        br = art.select((art.radii >= 1.35) & (art.generation >= 2))  # beyond the real lobar
        lumen = br.radii * rng.uniform(0.68, 0.82)
        br = offset_tree(br, br.radii + lumen * 1.45 + 0.3, rng)
        br.radii = lumen
        chest.bronchi[side] = br


def peribronchial_thickening(
    hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Thickened walls (about half the lumen diameter) around air-filled bronchi of the
    grown trees, in some or all lobes: thick-walled rings and tram tracks."""
    grow_bronchi(chest, anat)
    diffuse = rng.random() < 0.5
    lobes = list(range(1, 7)) if diffuse else fl._pick_lobes(rng, chest, prefer_lower=True)
    s, e, r = fl._bronchi_in(chest, lobes, 1.0)
    outer = r * float(rng.uniform(2.0, 2.6)) + 1.0
    box = fl._lung_box(chest)
    f_out = splat_segments(chest.grid, s, e, outer, box)
    f_lum = splat_segments(chest.grid, s, e, r, box)
    lung = chest.lungs[box] > 0
    sub = hu[box]
    before = sub.copy()
    blend(sub, np.clip(f_out - f_lum, 0, 1), 50.0, lung & (sub < 0))
    blend(sub, f_lum, -1000.0, lung)
    faint = np.abs(sub - before) < 100.0
    sub[faint] = before[faint]
    mask = np.zeros(hu.shape, bool)
    mask[box] = ~faint
    return fl.airway_result(chest, mask, diffuse, lobes)


def _with_bronchi(
    painter: Painter, hu: np.ndarray, chest: Chest, rng: np.random.Generator, anat: Anatomy
) -> FindingResult:
    """Run a synthetic airway painter on the grown trees, dropping its faint partial-volume
    haze (changes under 100 HU), which a real lung's own texture does not need."""
    grow_bronchi(chest, anat)
    before = hu.copy()
    result = painter(hu, chest, rng)
    faint = np.abs(hu - before) < 100.0
    hu[faint] = before[faint]
    result.mask &= ~faint
    return result


REAL_PAINTERS: dict[str, Any] = {
    "Cardiomegaly": cardiomegaly,
    "Pericardial effusion": pericardial_effusion,
    "Coronary artery wall calcification": coronary_calcification,
    "Arterial wall calcification": arterial_wall_calcification,
    "Hiatal hernia": hiatal_hernia,
    "Lymphadenopathy": lymphadenopathy,
    "Medical material": medical_material,
    "Bronchiectasis": partial(_with_bronchi, fl.bronchiectasis),
    "Peribronchial thickening": peribronchial_thickening,
}
NEEDS = {  # what each real painter needs from the anatomy
    "Cardiomegaly": ("heart",),
    "Pericardial effusion": ("heart",),
    "Coronary artery wall calcification": ("heart",),
    "Arterial wall calcification": ("aorta",),
    "Hiatal hernia": ("esophagus",),
    "Lymphadenopathy": ("station:subcarinal",),
    "Bronchiectasis": ("hilum_right", "hilum_left"),
    "Peribronchial thickening": ("hilum_right", "hilum_left"),
    "Medical material": ("carina", "sternum", "svc"),
}


def real_painters(anat: Anatomy) -> dict[str, Painter]:
    """All painters (in the synthetic painting order) with the real ones bound to ``anat``."""
    out: dict[str, Painter] = {}
    for name, painter in PAINTERS.items():
        real = REAL_PAINTERS.get(name)
        out[name] = partial(real, anat=anat) if real is not None else painter
    return out


# ----------------------------------------------------------------------------- background
SEVERITY_ORDER = ["mild", "small", "moderate", "severe", "large", "extensive", "marked"]


def _has(anat: Anatomy, need: str) -> bool:
    if need == "heart":
        return bool(anat.mask(HEART).any())
    if need == "aorta":
        return bool(anat.mask(*AORTA).any())
    return need in anat.points or need in anat.paths


def insertable(anat: Anatomy) -> set[str]:
    """Names of the real painters whose anatomy was found in this background."""
    return {name for name, needs in NEEDS.items() if all(_has(anat, n) for n in needs)}


def background_findings(
    anat: Anatomy, chest: Chest
) -> tuple[dict[str, tuple[np.ndarray, dict[str, Any]]], set[str]]:
    """Findings the real scan already shows: ``(present {name: (mask, attrs)}, unclear)``.

    Calcium on the aortic wall and on the epicardial surface (> 0.05 mL), and a heart wider
    than 0.55 of the thorax, are present; a ratio of 0.50-0.55 or metal is unclear."""
    present: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}
    unclear: set[str] = set()
    stats, g = anat.stats, chest.grid
    ca = anat.mask(AORTIC_CALCIUM)
    if stats.get("aortic_calcium_ml", 0.0) >= 0.05 and ca.any():
        near = ndimage.binary_dilation(ca, iterations=2)
        segs = sorted(SEGMENT_NAMES[c] for c in AORTA if (near & anat.mask(c)).any())
        count = int(ndimage.label(ca)[1])
        severity = "mild" if count < 5 else "moderate" if count < 11 else "extensive"
        attrs = {"segments": segs or ["thoracic aorta"], "count": count, "severity": severity}
        present["Arterial wall calcification"] = (ca, {**attrs, "source": "background CT"})
    cc = anat.mask(CARDIAC_CALCIUM)
    geo = heart_geometry(anat, chest)
    if stats.get("cardiac_calcium_ml", 0.0) >= 0.05 and cc.any() and geo is not None:
        lab, n = ndimage.label(cc)
        vessels = set()
        for p in g.to_mm(np.array(ndimage.center_of_mass(cc, lab, range(1, n + 1)))):
            rel = p - geo.center
            vessels.add(
                "right coronary"
                if rel[0] < -15
                else "left anterior descending"
                if rel[1] < 0
                else "circumflex"
            )
        ml = stats["cardiac_calcium_ml"]
        severity = "mild" if ml < 0.1 else "moderate" if ml < 0.5 else "severe"
        attrs = {"vessels": sorted(vessels), "count": n, "severity": severity}
        present["Coronary artery wall calcification"] = (cc, {**attrs, "source": "background CT"})
    heart = anat.mask(HEART)
    ctr = float(stats.get("ctr", 0.0))  # measured on the scan itself, before any warp
    if ctr >= 0.55:
        severity = "mild" if ctr < 0.6 else "moderate" if ctr < 0.66 else "marked"
        attrs = {"severity": severity, "ctr": round(ctr, 2), "source": "background CT"}
        present["Cardiomegaly"] = (heart, attrs)
    elif ctr >= 0.5:
        unclear.add("Cardiomegaly")
    if stats.get("metal_ml", 0.0) > 0.01:
        unclear.add("Medical material")
    return present, unclear


def merge_attrs(background: dict[str, Any], painted: dict[str, Any]) -> dict[str, Any]:
    """Attributes of a finding both present in the scan and painted into it."""
    out = {**background, **painted}
    for key in ("segments", "vessels", "stations", "lobes"):
        if key in background and key in painted:
            out[key] = sorted(set(background[key]) | set(painted[key]))
    if "nodules" in background and "nodules" in painted:
        both = [*background["nodules"], *painted["nodules"]]
        out["nodules"] = sorted(both, key=lambda n: -n["size_mm"])
    if "count" in background and "count" in painted:
        out["count"] = background["count"] + painted["count"]
    sev = [s for s in (background.get("severity"), painted.get("severity")) if s]
    if sev:
        out["severity"] = max(
            sev, key=lambda s: SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else -1
        )
    sides = {background.get("side"), painted.get("side")} - {None}
    if len(sides) > 1:
        out["side"] = "bilateral"
    return out
