"""Anatomy of a real chest CT by classical image analysis (numpy/scipy only).

``extract_anatomy`` works on the scan resampled to about 1.2 mm in-plane: body and lungs
(thresholds, components), spine (bone at the posterior midline), trachea and main bronchi
(air tubes tracked slice by slice from the neck), descending and ascending aorta (a
disk-minus-ring circle search beside the spine and in front of the trachea, tracked slice by
slice, joined by the arch), heart (the soft-tissue blob below the hila, grown slice by slice
inside the lungs' convex hull), esophagus (the deepest free point in front of the spine),
sternum, diaphragm domes and the lymph-node stations. The result is a label volume on that
grid plus named points in source millimetres (``x, y, z`` from voxel 0, axes +x +y +z);
:mod:`real_warp` maps it onto a case's warped grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.shapes import chaikin, tube_distance
from radvoice.data.phantom.slice_tools import Circle, disk, hull, track, window
from radvoice.errors import RadVoiceError

HEART, AO_ASC, AO_ARCH, AO_DESC, AIRWAY, ESOPHAGUS = 1, 2, 3, 4, 5, 6
AORTIC_CALCIUM, CARDIAC_CALCIUM = 7, 8  # calcium already in the scan
SEGMENT_NAMES = {AO_ASC: "ascending aorta", AO_ARCH: "aortic arch", AO_DESC: "descending aorta"}


class BackgroundError(RadVoiceError):
    """A real background that cannot be used."""


@dataclass
class SourceAnatomy:
    """``labels`` on ``grid`` (the analysis grid, in source mm); ``points``/``paths`` in mm."""

    grid: Grid
    labels: np.ndarray
    points: dict[str, np.ndarray] = field(default_factory=dict)
    paths: dict[str, np.ndarray] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def derive_masks(hu: np.ndarray, grid: Grid | None = None) -> tuple[np.ndarray, ...]:
    """``(body, lungs int8 1=right 2=left, mediastinum)`` from a chest CT in HU."""
    dense = ndimage.binary_opening(hu > -400, iterations=1)
    lab, n = ndimage.label(dense)
    if n == 0:
        raise BackgroundError("no body found in the background CT")
    sizes = ndimage.sum_labels(dense, lab, index=np.arange(1, n + 1))
    body = lab == (1 + int(np.argmax(sizes)))
    body = np.stack([ndimage.binary_fill_holes(s) for s in body])
    air = ndimage.binary_opening((hu < -400) & body, iterations=1)
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
    ii = np.arange(hu.shape[2])[None, None, :]
    r_max = np.where(lungs == 1, ii, -1).max(axis=2, keepdims=True)
    l_min = np.where(lungs == 2, ii, 10**6).min(axis=2, keepdims=True)
    med = (ii > r_max) & (ii < l_min) & (r_max >= 0) & (l_min < 10**6) & body
    return body, lungs, med


# ----------------------------------------------------------------------------- the scan
@dataclass
class _Scan:
    hu: np.ndarray  # smoothed HU on the analysis grid
    grid: Grid
    body: np.ndarray
    lungs: np.ndarray
    bone: np.ndarray  # > 200 HU with enclosed marrow
    labels: np.ndarray
    spine: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (nz, 2): i, j_front
    points: dict[str, np.ndarray] = field(default_factory=dict)
    paths: dict[str, np.ndarray] = field(default_factory=dict)
    circles: dict[str, dict[int, Circle]] = field(default_factory=dict)

    @property
    def px(self) -> float:
        return self.grid.spacing[0]

    @property
    def sz(self) -> float:
        return self.grid.spacing[2]

    def mm(self, k: float, j: float, i: float) -> np.ndarray:
        return self.grid.to_mm(np.array([k, j, i], float))

    def lung_slices(self, min_cm2: float = 15.0) -> np.ndarray:
        area = (self.lungs > 0).sum(axis=(1, 2)) * self.px**2 / 100
        return np.nonzero(area >= min_cm2)[0]


def _prepare(arr: np.ndarray, spacing: tuple[float, ...]) -> _Scan:
    f = max(1, int(round(1.2 / spacing[0])))
    nz, ny, nx = arr.shape
    ny2, nx2 = ny // f * f, nx // f * f
    a = arr[:, :ny2, :nx2].reshape(nz, ny2 // f, f, nx2 // f, f).mean(axis=(2, 4))
    a = ndimage.gaussian_filter(a.astype(np.float32), (0, 0.7, 0.7))
    off = (f - 1) / 2
    grid = Grid(
        a.shape,
        (spacing[0] * f, spacing[1] * f, spacing[2]),
        (off * spacing[0], off * spacing[1], 0.0),
    )  # type: ignore[arg-type]
    body, lungs, _ = derive_masks(a)
    bone = np.stack([ndimage.binary_fill_holes(b) for b in (a > 200) & body])
    return _Scan(a, grid, body, lungs, bone, np.zeros(a.shape, np.uint8))


def _find_spine(sc: _Scan) -> None:
    """Per slice: column of the vertebral body and row of its front edge (nan if none)."""
    px = sc.px
    out = np.full((sc.hu.shape[0], 2), np.nan)
    for k in range(sc.hu.shape[0]):
        b = sc.body[k]
        if b.sum() * px * px < 1e4:
            continue
        jj, ii = np.nonzero(b)
        cx, y0, y1 = ii.mean(), jj.min(), jj.max()
        bone = (sc.hu[k] > 150) & b
        band = bone[:, int(cx - 10 / px) : int(cx + 10 / px) + 1]
        rows = np.nonzero(band.any(axis=1))[0]
        rows = rows[rows > y0 + 0.45 * (y1 - y0)]
        if not rows.size:
            continue
        i0 = int(cx - 25 / px)
        sub = bone[rows.min() : rows.min() + int(15 / px), i0 : int(cx + 25 / px) + 1]
        out[k] = (np.nonzero(sub)[1].mean() + i0, rows.min())
    ok = ~np.isnan(out[:, 0])
    if ok.sum() < 3:
        raise BackgroundError("no spine found in the background CT")
    ks = np.arange(len(out))
    for c in range(2):
        v = ndimage.median_filter(out[ok, c], 5, mode="nearest")
        out[:, c] = np.interp(ks, ks[ok], v)
    sc.spine = out


def _find_airway(sc: _Scan) -> None:  # noqa: C901 - to be split
    """Trachea from the highest round air tube in front of the spine, then down slice by
    slice; the carina is where it splits, each main bronchus ends where it meets the lung."""
    px, nz = sc.px, sc.hu.shape[0]
    air = (sc.hu < -900) & sc.body
    start = None
    for k in range(nz - 1, -1, -1):
        lab, n = ndimage.label(air[k])
        for c in range(1, n + 1):
            m = lab == c
            area = m.sum() * px * px
            j, i = np.nonzero(m)
            if not 80 < area < 600 or abs(i.mean() - sc.spine[k, 0]) * px > 25:
                continue
            if j.mean() > sc.spine[k, 1] or area < 0.6 * np.pi / 4 * np.ptp(i) * np.ptp(j) * px**2:
                continue
            start = (k, m)
            break
        if start:
            break
    if start is None:
        return
    k, prev_m = start
    sc.labels[k][prev_m] = AIRWAY
    branches, carina = [prev_m], None
    centers: dict[int, np.ndarray] = {k: np.array(np.nonzero(prev_m)).mean(axis=1)}
    limbs: list[tuple[int, np.ndarray]] = []
    for k in range(start[0] - 1, -1, -1):
        if carina is not None and (carina - k) * sc.sz > 40:
            break
        lab, _ = ndimage.label(air[k])
        new = []
        for prev in branches:
            ids = [c for c in np.unique(lab[ndimage.binary_dilation(prev, iterations=2)]) if c]
            near = ndimage.binary_dilation(prev, iterations=6)
            for c in ids:
                m = lab == c
                leak = (m & (sc.lungs[k] > 0) & ~near).sum() * px * px
                if m.sum() * px * px <= 900 and leak <= 150:
                    new.append(m)
        if carina is None and len(branches) == 1 and len(new) >= 2:
            carina = k + 1
        new = sorted(new, key=lambda m: -int(m.sum()))[:2]
        for m in new:
            sc.labels[k][m & (sc.labels[k] == 0)] = AIRWAY
            if carina is not None:
                limbs.append((k, np.array(np.nonzero(m)).mean(axis=1)))
        if len(new) == 1 and carina is None:
            centers[k] = np.array(np.nonzero(new[0])).mean(axis=1)
        branches = new
        if not branches:
            break
    if carina is None:
        return
    jc, ic = centers[carina]
    areas = [(sc.labels[k] == AIRWAY).sum() for k in centers]
    r_tr = float(np.sqrt(np.median(areas) / np.pi) * px)
    sc.points["carina"] = sc.mm(carina, jc, ic)
    sc.paths["trachea"] = np.array([sc.mm(k, *c) for k, c in sorted(centers.items())])
    sc.paths["trachea_radius"] = np.full(len(centers), r_tr)
    k_hilum = carina - 20.0 / sc.sz
    for side, sign in (("right", -1.0), ("left", 1.0)):
        mine = [(k, c) for k, c in limbs if (c[1] - ic) * sign > 0]
        if mine:
            k, c = min(mine, key=lambda kc: abs(kc[0] - k_hilum))
            sc.points[f"hilum_{side}"] = sc.mm(k, *c) + np.array([sign * 10.0, 4.0, 0.0])
        else:  # the bronchus ran into the lung at once: beside the carina
            sc.points[f"hilum_{side}"] = sc.points["carina"] + np.array([sign * 30.0, 6.0, -15.0])


def _find_aorta(sc: _Scan) -> None:
    """Descending aorta beside the spine, ascending aorta in front of the trachea (circle
    tracking from the carina level up and down), the arch as a curve joining their tops."""
    if "carina" not in sc.points:
        return
    px, sz, shape = sc.px, sc.sz, sc.hu.shape[1:]
    tissue = (sc.hu > -40) & (sc.hu < 250) & ~sc.bone & sc.body & (sc.lungs == 0)
    kc, jc, ic = np.rint(sc.grid.to_index(sc.points["carina"])).astype(int)
    lung_ks = sc.lung_slices()
    k_lo, k_hi = int(lung_ks.min()), min(int(lung_ks.max()), kc + int(40 / sz))

    def w_desc(k: int) -> np.ndarray:
        i0, j0 = sc.spine[k]
        return window(shape, j0 - 45 / px, j0 + 25 / px, i0 + 5 / px, i0 + 55 / px)

    def w_asc(k: int) -> np.ndarray:
        return window(shape, jc - 85 / px, jc - 12 / px, ic - 50 / px, ic + 15 / px)

    desc_r, asc_r = (
        [8.0, 9.5, 11.0, 12.5, 14.0, 15.5, 17.0],
        [11.0, 12.5, 14.0, 15.5, 17.0, 18.5, 20.0],
    )
    for name, seed, win, radii, jump in (
        ("desc", kc - int(round(25 / sz)), w_desc, desc_r, 10.0),
        ("asc", kc - int(round(15 / sz)), w_asc, asc_r, 8.0),
    ):
        seed = int(np.clip(seed, k_lo, k_hi))
        i0, j0 = sc.spine[seed]
        prior = (j0 + 3 / px, i0 + 25 / px) if name == "desc" else (jc - 40 / px, ic)
        down = track(tissue, win, list(range(seed, k_lo - 1, -1)), radii, px, jump, prior)
        if seed not in down:
            continue
        prior = down[seed][1:3]
        up = track(tissue, win, list(range(seed, k_hi + 1)), radii, px, jump, prior)
        sc.circles[name] = {**down, **up}
    if "desc" not in sc.circles or "asc" not in sc.circles:
        return
    hu_ok = (sc.hu > -40) & ~sc.bone
    for name, code in (("asc", AO_ASC), ("desc", AO_DESC)):
        for k, (_, j, i, r) in sc.circles[name].items():
            d = disk((r + 1.5) / px)
            n = d.shape[0] // 2
            sub = sc.labels[k, j - n : j + n + 1, i - n : i + n + 1]
            ok = hu_ok[k, j - n : j + n + 1, i - n : i + n + 1]
            if sub.shape == d.shape:
                sub[d & ok & (sub == 0)] = code
    asc = [(k, sc.mm(k, j, i), r) for k, (_, j, i, r) in sorted(sc.circles["asc"].items())]
    desc = [(k, sc.mm(k, j, i), r) for k, (_, j, i, r) in sorted(sc.circles["desc"].items())]
    top_a, top_d = asc[-1][1], desc[-1][1]
    r_arch = 0.5 * (asc[-1][2] + desc[-1][2])
    apex = 0.5 * (top_a + top_d)
    apex[2] = max(top_a[2], top_d[2]) + max(sz, 0.6 * r_arch)
    arch = chaikin(np.array([top_a, apex, top_d]), 3)
    d = tube_distance(sc.grid, arch, r_arch + 1.5)
    sc.labels[(d < 1.0) & hu_ok & (sc.labels == 0) & (sc.lungs == 0)] = AO_ARCH
    path = np.vstack([[p for _, p, _ in asc], arch[1:-1], [p for _, p, _ in desc[::-1]]])
    radius = np.concatenate(
        [[r for *_, r in asc], np.full(len(arch) - 2, r_arch), [r for *_, r in desc[::-1]]]
    )
    sc.paths["aorta"], sc.paths["aorta_radius"] = path, radius
    sc.points["aortic_arch"] = apex


def _find_heart(sc: _Scan) -> None:
    """Soft tissue below the hila, inside the lungs' convex hull and in front of the spine,
    grown slice by slice from the widest slice (denser liver below is cut off by HU)."""
    if "carina" not in sc.points:
        return
    px, nz = sc.px, sc.hu.shape[0]
    kc = int(round(sc.grid.to_index(sc.points["carina"])[0]))
    k_top = kc - int(round(30 / sc.sz))
    lung = sc.lungs > 0
    smooth = ndimage.gaussian_filter(sc.hu, (0, 1.5, 1.5))
    jj = np.arange(sc.hu.shape[1])[:, None]
    free = (sc.labels == 0) & sc.body & ~lung & ~ndimage.binary_dilation(sc.bone, iterations=2)
    open_fp, grow_fp = disk(6 / px), disk(8 / px)

    def region(k: int, hu_max: float) -> np.ndarray:
        cav = hull(lung[k : min(nz, k + 5)].any(axis=0))
        front = jj < sc.spine[k, 1] - 8 / px
        t = free[k] & cav & front & (smooth[k] > -20) & (smooth[k] < hu_max)
        return ndimage.binary_opening(t, structure=open_fp)

    best = None
    for k in range(max(0, k_top - int(40 / sc.sz)), max(1, k_top - 1)):
        lab, n = ndimage.label(region(k, 120.0))
        if n:
            sizes = ndimage.sum_labels(lab > 0, lab, np.arange(1, n + 1))
            if best is None or sizes.max() > best[0]:
                best = (sizes.max(), k, lab == 1 + int(np.argmax(sizes)))
    if best is None or best[0] * px * px < 2000:
        return
    _, k0, m0 = best
    median = float(np.percentile(smooth[k0][m0], 50))
    hu_max = median + 12.0
    sc.labels[k0][m0] = HEART
    for step in (-1, 1):
        prev, k = m0, k0 + step
        while 0 <= k <= k_top:
            lab, n = ndimage.label(region(k, hu_max) & ndimage.binary_dilation(prev, grow_fp))
            if n == 0:
                break
            overlap = ndimage.sum_labels(prev, lab, np.arange(1, n + 1))
            m = np.isin(lab, 1 + np.flatnonzero(overlap > 0.02 * prev.sum()))
            if m.sum() * px * px < 300 or smooth[k][m].mean() < median - 15:
                break  # too small, or mostly fat: below the heart
            m = ndimage.binary_fill_holes(ndimage.binary_closing(m, structure=disk(3 / px)))
            sc.labels[k][m & (sc.labels[k] == 0)] = HEART
            prev, k = m, k + step


def _find_esophagus(sc: _Scan) -> None:
    """Per slice, the point deepest inside the free (not bone, aorta, heart, airway, lung)
    tissue near where the esophagus runs: behind the trachea, then in front of the spine."""
    if "carina" not in sc.points:
        return
    px = sc.px
    kc, _jc, _ic = sc.grid.to_index(sc.points["carina"])
    r_tr = float(sc.paths["trachea_radius"][0])
    trachea = {int(round(sc.grid.to_index(p)[0])): sc.grid.to_index(p) for p in sc.paths["trachea"]}
    free = (sc.labels == 0) & (sc.lungs == 0) & sc.body & ~sc.bone & (sc.hu > -300)
    centres = []
    for k in range(int(sc.lung_slices().min()), sc.hu.shape[0]):
        i_sp, j_sp = sc.spine[k]
        if k in trachea and k >= kc:
            j_e, i_e = trachea[k][1] + (r_tr + 8) / px, trachea[k][2] + 4 / px
        else:
            j_e, i_e = j_sp - 10 / px, i_sp + 6 / px
        win = window(free.shape[1:], j_e - 12 / px, j_e + 12 / px, i_e - 12 / px, i_e + 12 / px)
        depth = ndimage.distance_transform_edt(free[k]) * win
        if depth.max() * px < 3.0:
            continue
        j, i = np.unravel_index(int(np.argmax(depth)), depth.shape)
        centres.append(sc.mm(k, j, i))
    if len(centres) < 3:
        return
    path = np.array(centres)
    path[:, :2] = ndimage.median_filter(path[:, :2], size=(5, 1), mode="nearest")
    sc.paths["esophagus"] = path
    d = tube_distance(sc.grid, path, 8.0)
    sc.labels[(d < 1.0) & (sc.labels == 0) & (sc.lungs == 0) & ~sc.bone & sc.body] = ESOPHAGUS


def _find_landmarks(sc: _Scan) -> None:
    """Sternum, diaphragm domes, superior vena cava, lymph-node stations (source mm)."""
    px, g = sc.px, sc.grid
    car = sc.points["carina"]
    kc = int(round(g.to_index(car)[0]))
    k_st = int(np.clip(kc + round(28 / sc.sz), 0, sc.hu.shape[0] - 1))
    jj, _ii = np.nonzero(sc.body[k_st])
    ic = g.to_index(car)[2]
    front = (sc.hu[k_st] > 200) & (np.abs(np.arange(sc.hu.shape[2]) - ic) < 25 / px)[None, :]
    front &= np.arange(sc.hu.shape[1])[:, None] < jj.min() + 45 / px
    if front.any():
        j, i = np.array(np.nonzero(front)).mean(axis=1)
        sc.points["sternum"] = sc.mm(k_st, j, i)
    else:
        sc.points["sternum"] = sc.mm(k_st, jj.min() + 15 / px, ic)
    z0 = float(g.z[0, 0, 0])
    for side, code in (("right", 1), ("left", 2)):
        lung = sc.lungs == code
        area = lung.sum(axis=(1, 2))
        if not area.any():
            sc.points[f"dome_{side}"] = car + np.array([0.0, 0.0, -150.0])
            continue
        k = int(np.argmax(area >= 0.25 * area.max()))  # lowest slice with a quarter of the lung
        z = z0 - 10.0 if area[0] >= 0.1 * area.max() else float(g.z[k, 0, 0])
        j, i = np.array(np.nonzero(lung[k])).mean(axis=1)
        sc.points[f"dome_{side}"] = np.array([*sc.mm(k, j, i)[:2], z])
    r_tr = float(sc.paths["trachea_radius"][0])
    asc = sc.paths["aorta"][np.argmin(np.abs(sc.paths["aorta"][:, 2] - (car[2] - 10)))]
    r_asc = float(np.median(sc.paths["aorta_radius"]))
    sc.paths["svc"] = chaikin(
        np.array(
            [
                car + np.array([-(r_tr + 22.0), -14.0, 60.0]),
                asc + np.array([-(r_asc + 12.0), 4.0, 20.0]),
                asc + np.array([-(r_asc + 10.0), 10.0, -35.0]),
            ]
        ),
        2,
    )
    stations = {
        "upper right paratracheal": car + np.array([-(r_tr + 9.0), -3.0, 40.0]),
        "right lower paratracheal": car + np.array([-(r_tr + 10.0), -6.0, 12.0]),
        "left lower paratracheal": car + np.array([r_tr + 9.0, -2.0, 8.0]),
        "subcarinal": car + np.array([2.0, 12.0, -18.0]),
        "aortopulmonary window": car + np.array([28.0, -8.0, 2.0]),
        "prevascular": asc + np.array([6.0, -(r_asc + 12.0), 22.0]),
        "right hilar": sc.points["hilum_right"] + np.array([4.0, -4.0, -4.0]),
        "left hilar": sc.points["hilum_left"] + np.array([-4.0, -4.0, -4.0]),
    }
    k_ax = int(np.clip(kc + round(35 / sc.sz), 0, sc.hu.shape[0] - 1))
    for side, code, sign in (("right", 1, -1.0), ("left", 2, 1.0)):
        j, i = np.nonzero(sc.lungs[k_ax] == code)
        if i.size:
            edge = i.min() if sign < 0 else i.max()
            stations[f"{side} axillary"] = sc.mm(k_ax, j.mean() - 10 / px, edge + sign * 40 / px)
    for name, p in stations.items():
        sc.points[f"station:{name}"] = p


def _measure(sc: _Scan) -> dict[str, Any]:
    """Volumes (mL), centroids (mm), cardiothoracic ratio and calcium/metal already present."""
    g = sc.grid
    vox = g.voxel_volume / 1000.0
    names = {HEART: "heart", AO_ASC: "ascending aorta", AO_ARCH: "aortic arch"}
    names.update({AO_DESC: "descending aorta", AIRWAY: "airway", ESOPHAGUS: "esophagus"})
    out: dict[str, Any] = {"volume_ml": {}, "centroid_mm": {}}
    for code, name in names.items():
        m = sc.labels == code
        out["volume_ml"][name] = round(float(m.sum() * vox), 1)
        if m.any():
            c = g.to_mm(np.array(np.nonzero(m)).mean(axis=1))
            out["centroid_mm"][name] = [round(float(v), 1) for v in c]
    heart = sc.labels == HEART
    lung = sc.lungs > 0
    if heart.any() and lung.any():
        hw = max(np.ptp(np.nonzero(heart[k])[1]) + 1 for k in np.flatnonzero(heart.any((1, 2))))
        tw = max(np.ptp(np.nonzero(lung[k])[1]) + 1 for k in np.flatnonzero(lung.any((1, 2))))
        out["ctr"] = round(float(hw / tw), 3)
    aorta = np.isin(sc.labels, (AO_ASC, AO_ARCH, AO_DESC))
    dense = sc.hu > 200
    lab, n = ndimage.label(dense, structure=np.ones((3, 3, 3)))
    big = ndimage.sum_labels(dense, lab, np.arange(1, n + 1)) * vox > 1.5  # bones, not plaques
    bone = ndimage.binary_dilation(np.isin(lab, 1 + np.flatnonzero(big)), iterations=2)
    calcium = dense & ~bone & (sc.labels != AIRWAY)
    near_aorta = ndimage.binary_dilation(aorta, iterations=2)
    out["aortic_calcium_ml"] = round(float((calcium & near_aorta).sum() * vox), 3)
    shell = ndimage.binary_dilation(heart, iterations=4) & ~near_aorta
    out["cardiac_calcium_ml"] = round(float((calcium & shell).sum() * vox), 3)
    lung_ks = sc.lung_slices()
    metal = (sc.hu > 1500) & sc.body
    out["metal_ml"] = round(float(metal[lung_ks].sum() * vox), 3)
    sc.labels[(calcium & near_aorta) & ~heart] = AORTIC_CALCIUM
    sc.labels[calcium & shell & (sc.labels == 0)] = CARDIAC_CALCIUM
    return out


def extract_anatomy(arr: np.ndarray, spacing: tuple[float, ...]) -> SourceAnatomy:
    """Run every step on a scan in HU (axes +z, +y, +x); missing structures are left out."""
    sc = _prepare(arr, spacing)
    _find_spine(sc)
    _find_airway(sc)
    _find_aorta(sc)
    _find_heart(sc)
    _find_esophagus(sc)
    if "aorta" in sc.paths:
        _find_landmarks(sc)
    stats = _measure(sc)
    return SourceAnatomy(sc.grid, sc.labels, sc.points, sc.paths, stats)
