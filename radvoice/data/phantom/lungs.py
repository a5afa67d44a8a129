"""Lungs of the synthetic chest: masks, lobes, vessel and bronchial trees, parenchyma."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from radvoice.data.phantom.context import Chest
from radvoice.data.phantom.shapes import noise_field, splat_segments, tube_distance
from radvoice.data.phantom.trees import grow_tree, offset_tree
from radvoice.labels import PATHOLOGIES

if TYPE_CHECKING:
    from radvoice.data.phantom.anatomy import ChestBuilder

# the procedural phantom can show every CT-RATE finding
SYNTHETIC_SUPPORTED = frozenset(PATHOLOGIES)


def lobe_map(
    lungs: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    Z: np.ndarray,
    hilum_y: float,
    hilum_z: float,
    b_c: float,
) -> np.ndarray:
    """Lobe codes from fissure planes: oblique fissures rise posteriorly, the horizontal
    fissure bounds the right middle lobe, the lingula is the inferior left upper lobe."""
    lower = Z < hilum_z + 0.85 * (Y - hilum_y)
    lobes = np.zeros(lungs.shape, np.int8)
    right, left = lungs == 1, lungs == 2
    lobes[right] = 1
    lobes[left] = 4
    middle = right & ~lower & (Z < hilum_z + 8.0) & (Y < hilum_y + 0.3 * b_c)
    lobes[middle] = 2
    lobes[right & lower] = 3
    lobes[left & ~lower & (Z < hilum_z - 6.0)] = 6
    lobes[left & lower] = 5
    return lobes


def _hilum(b: ChestBuilder, lungs: np.ndarray, side: int, y_h: float, z_h: float) -> np.ndarray:
    g = b.g
    slab = (np.abs(g.z - z_h) < 15) & (np.abs(g.y - y_h) < 25) & (lungs == side)
    k, _j, i = np.nonzero(slab)
    if k.size == 0:
        return np.array([-60.0 if side == 1 else 60.0, y_h, z_h])
    xs = g.x[0, 0, i]
    x_med = xs.max() if side == 1 else xs.min()
    x = x_med + (-10.0 if side == 1 else 10.0)
    return np.array([float(x), y_h, z_h])


def render_lungs(b: ChestBuilder) -> Chest:
    g, hu, rng, p = b.g, b.hu, b.rng, b.p
    lungish = (b.rho_c < b.lung_scale * 0.985) & (b.Z > b.z_d + 1.0) & b.body & ~b.mediastinum_mask
    lungs = np.zeros(g.shape, np.int8)
    lungs[lungish & (b.X < 2.0)] = 1
    lungs[lungish & (b.X >= 2.0)] = 2
    y_h, z_h = b.y_cc + 0.08 * b.b_c, b.z_car - 22.0
    lobes = lobe_map(lungs, b.X, b.Y, b.Z, y_h, z_h, b.b_c)
    arteries, bronchi, veins = {}, {}, {}
    art_parts, vein_parts, lumen_parts, outer_parts = [], [], [], []
    car = b.landmarks["carina"]
    bif = b.landmarks["pa_bifurcation"]
    for side, name in ((1, "right"), (2, "left")):
        root = _hilum(b, lungs, side, y_h, z_h)
        b.landmarks[f"hilum_{name}"] = root
        chest_tmp = Chest.__new__(Chest)
        chest_tmp.grid = g
        pts = Chest.lung_points(chest_tmp, rng, 700, lungs == side)
        if len(pts) < 4:
            continue
        art = grow_tree(rng, root, pts, root_radius=8.5)
        arteries[name] = art
        vpts = Chest.lung_points(chest_tmp, rng, 500, lungs == side)
        vroot = root + np.array([0.0, 10.0, -28.0])
        vein = grow_tree(rng, vroot, vpts, root_radius=8.0)
        veins[name] = vein
        keep = art.radii >= 1.35
        br = art.select(keep)
        lumen = br.radii * rng.uniform(0.68, 0.82)
        outer = lumen * 1.45
        br = offset_tree(br, br.radii + outer + 0.3, rng)
        br.radii = lumen
        bronchi[name] = br
        art_parts.append(art)
        vein_parts.append(vein)
        lumen_parts.append((br.starts, br.ends, lumen))
        outer_parts.append((br.starts, br.ends, outer))
        # central connections: pulmonary artery branch, main bronchus, pulmonary veins
        pa = np.array([bif, bif + (root - bif) * 0.5 + np.array([0, 4.0, 3.0]), root])
        d = tube_distance(g, pa, np.array([10.0, 9.0, 8.0]))
        hu[d < 1.0] = b.blood * 1.1
        b.mediastinum_mask |= (d < 1.0) & (lungs == 0) & b.body
        mb = np.array(
            [
                car,
                car + (root - car) * 0.55 + np.array([0, 6.0, -4.0]),
                root + np.array([0, 9.0, 2.0]),
            ]
        )
        rb = np.array([7.5, 6.5, 5.5]) if side == 1 else np.array([6.8, 6.0, 5.2])
        d = tube_distance(g, mb, rb)
        hu[d < 1.0] = 50.0
        hu[d < 0.78] = -1000.0
        pv = np.array(
            [
                vroot,
                vroot + np.array([18.0 if side == 1 else -18.0, 6, -4]),
                b.heart.center + np.array([-5.0 if side == 1 else 20.0, 40.0, 10.0]),
            ]
        )
        d = tube_distance(g, pv, 7.0)
        hu[(d < 1.0) & (lungs == 0) & b.body & ~b.abdomen] = b.blood
    lungs[b.mediastinum_mask] = 0
    lobes[lungs == 0] = 0
    lung = lungs > 0
    kk, jj, ii = np.nonzero(lung)
    lumen_f = np.zeros(g.shape, np.float32)
    if kk.size:
        box = (
            slice(kk.min(), kk.max() + 1),
            slice(jj.min(), jj.max() + 1),
            slice(ii.min(), ii.max() + 1),
        )
        allv = art_parts + vein_parts
        fv = splat_segments(
            g,
            np.concatenate([t.starts for t in allv]),
            np.concatenate([t.ends for t in allv]),
            np.concatenate([t.radii for t in allv]),
            box,
        )
        fo = splat_segments(g, *[np.concatenate(x) for x in zip(*outer_parts, strict=True)], box)
        fl = splat_segments(g, *[np.concatenate(x) for x in zip(*lumen_parts, strict=True)], box)
        tex = noise_field(rng, fv.shape, g.spacing, 7.0)
        yy = g.y[:, box[1]]
        dep = np.clip((yy - b.y_cc) / b.b_c + 0.2, 0, 1.2) ** 2
        base = p.lung_hu + 20.0 * tex + 70.0 * dep
        fw = np.clip(fo - fl, 0, 1)
        val = base * (1 - fv) + b.blood * fv
        val = val * (1 - fw) + 45.0 * fw
        val = val * (1 - fl) - 1000.0 * fl
        sub = hu[box]
        m = lung[box]
        sub[m] = val[m]
        lumen_f[box] = np.where(m, fl, 0)
    return Chest(
        grid=g,
        body=b.body,
        lungs=lungs,
        lobes=lobes,
        mediastinum=b.mediastinum_mask,
        mediastinal_fat=b.mediastinum_mask & (hu < -60) & (hu > -140),
        cavity_wall=b.body & ~lung & ~b.mediastinum_mask & (b.e > -1) & (b.e < 12),
        subcutaneous_fat=b.subcut,
        heart=b.heart,
        landmarks=b.landmarks,
        paths=b.paths,
        diaphragm_z=b.z_d,
        airway_lumen=lumen_f,
        bronchi=bronchi,
        arteries=arteries,
        supported=SYNTHETIC_SUPPORTED,
        synthetic=True,
        tissue={
            "blood_hu": float(b.blood),
            "cavity_a": float(b.a_c),
            "cavity_b": float(b.b_c),
            "cavity_y": float(b.y_cc),
        },
    )
