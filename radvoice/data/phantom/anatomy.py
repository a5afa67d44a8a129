"""A normal chest in Hounsfield units on any grid: body wall, bones, mediastinum, lungs.

All structures are analytic functions of patient millimetres (LPS, origin near the centre of
the chest), evaluated on the requested grid, so the same patient can be rendered at the model
grid or at scanner resolution. :func:`build_chest` returns the HU field (float32, noise-free)
and the :class:`~radvoice.data.phantom.context.Chest` the findings are painted into.
"""

from __future__ import annotations

import numpy as np

from radvoice.data.phantom.context import Chest, HeartGeometry
from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.lungs import render_lungs
from radvoice.data.phantom.params import PatientParams
from radvoice.data.phantom.shapes import chaikin, ellipsoid, tube_distance

FAT, MUSCLE, SKIN, BLOOD, FLUID = -100.0, 45.0, 25.0, 40.0, 12.0


def _gauge(x, y, a, b_ant, b_post, p: float):
    """Super-ellipse gauge: < 1 inside, homogeneous of degree 1."""
    b = np.where(y > 0, b_post, b_ant)
    return (np.abs(x / a) ** p + np.abs(y / b) ** p) ** (1.0 / p)


class ChestBuilder:
    """Builds one normal chest on a grid, layer by layer; :mod:`radvoice.data.phantom.lungs`
    renders the lungs from its fields (``g``, ``p``, the coordinate arrays and masks)."""

    def __init__(self, rng: np.random.Generator, grid: Grid, params: PatientParams):
        self.rng, self.g, self.p = rng, grid, params
        self.X, self.Y, self.Z = grid.x, grid.y, grid.z
        self.X2, self.Y2 = grid.x[0], grid.y[0]
        self.hu = np.full(grid.shape, -1000.0, np.float32)
        self.landmarks: dict[str, np.ndarray] = {}
        self.paths: dict[str, np.ndarray] = {}
        p = params
        self.z_dome_r = p.dome_right
        self.z_dome_l = p.dome_right - p.dome_left_drop
        self.z_apex = p.dome_right + p.lung_height
        self.z_car = self.z_apex - 0.43 * p.lung_height
        self.blood = p.contrast_hu if p.contrast else BLOOD

    # ---------------------------------------------------------------- body wall
    def body_wall(self) -> None:
        p, X, Y, Z = self.p, self.X, self.Y, self.Z
        a_z = p.half_width * (1 + 0.06 * np.clip((Z - self.z_car) / 100.0, -1, 1))
        theta = np.arctan2(self.Y2, self.X2)
        h = p.outline_harmonics
        harm = 1 + sum(h[i] * np.cos((i + 2) * theta + h[3 + i]) for i in range(3))
        rho = _gauge(X, Y, a_z, p.half_depth, 0.92 * p.half_depth, p.squareness) / harm
        self.body = rho < 1.0
        r2 = np.sqrt(self.X2**2 + self.Y2**2) + 1e-3
        depth = r2 * (1.0 / np.maximum(rho, 1e-3) - 1.0)
        cx2, cy2 = (self.X2 / r2) ** 2, (self.Y2 / r2) ** 2
        t_fat = cx2 * p.fat_lat + cy2 * np.where(self.Y2 < 0, p.fat_ant, p.fat_post)
        t_mus = cx2 * p.muscle_lat + cy2 * np.where(self.Y2 < 0, p.muscle_ant, p.muscle_post)
        hu = self.hu
        hu[self.body] = MUSCLE
        self.subcut = self.body & (depth < t_fat + 2.0)
        hu[self.subcut] = FAT
        hu[self.body & (depth < 2.0)] = SKIN
        self.t_fat, self.t_mus = t_fat, t_mus
        # Thoracic cavity (inner surface of the ribs).
        y_ant = -p.half_depth + p.fat_ant + p.muscle_ant + 8.0
        y_post = 0.92 * p.half_depth - p.fat_post - p.muscle_post - 6.0
        self.y_cc = 0.5 * (y_ant + y_post)
        self.b_c = max(45.0, 0.5 * (y_post - y_ant))
        self.a_c = max(70.0, p.half_width - p.fat_lat - p.muscle_lat - 9.0)
        a_cz = self.a_c * (1 + 0.05 * np.clip((self.z_car - Z) / 100.0, 0, 1))
        self.rho_c = _gauge(X, Y - self.y_cc, a_cz, self.b_c, self.b_c, 2.2)
        z0 = self.z_car + 5.0
        arg = np.clip(1 - ((Z - z0) / (self.z_apex - z0)) ** 2, 0, 1)
        self.lung_scale = np.where(Z > z0, np.sqrt(arg), 1.0).astype(np.float32)
        self.rib_scale = np.maximum(self.lung_scale, 0.55)
        self.rc2 = np.sqrt(self.X2**2 + (self.Y2 - self.y_cc) ** 2) + 1e-3
        self.e = self.rc2 * (1.0 - self.rib_scale / np.maximum(self.rho_c, 1e-3))
        self.cavity = (self.rho_c < self.rib_scale) & self.body
        hu[self.cavity] = FAT
        self.theta_c = np.arctan2(np.abs(self.X2), self.Y2 - self.y_cc)  # 0 posterior, pi anterior
        self.landmarks["cavity_center"] = np.array([0.0, self.y_cc, self.z_car])
        if p.table:
            self._table()

    def _table(self) -> None:
        rows = np.flatnonzero(self.body[:, :, np.abs(self.g.x[0, 0]) < 30].any(axis=(0, 2)))
        y_tab = (float(self.g.y[0, rows.max(), 0]) if rows.size else self.p.half_depth) + 3.0
        curve = y_tab + 0.0016 * self.X2**2
        shell = (np.abs(self.Y2 - curve) < 2.0) | (np.abs(self.Y2 - curve - 18.0) < 2.0)
        foam = (self.Y2 > curve + 2.0) & (self.Y2 < curve + 16.0)
        wide = np.abs(self.X2) < 0.8 * self.p.half_width + 40
        self.hu[:, shell & wide] = 250.0
        self.hu[:, foam & wide] = -900.0

    # ---------------------------------------------------------------- diaphragm, abdomen
    def diaphragm(self) -> None:
        a, b, ycc = self.a_c, self.b_c, self.y_cc

        def dome(xc: float, zc: float) -> np.ndarray:
            dx = (self.X2 - xc) / (0.75 * a)
            dy = (self.Y2 - (ycc - 0.12 * b)) / b
            dy = np.where(dy > 0, 1.35 * dy, 0.8 * dy)
            return zc - 85.0 * (1.0 - np.exp(-(dx**2 + dy**2)))

        self.z_d = np.maximum(dome(-0.45 * a, self.z_dome_r), dome(0.48 * a, self.z_dome_l))
        self.z_d = self.z_d.astype(np.float32)
        self.landmarks["dome_right"] = np.array([-0.45 * a, ycc - 0.12 * b, self.z_dome_r])
        self.landmarks["dome_left"] = np.array([0.48 * a, ycc - 0.12 * b, self.z_dome_l])
        abd = (self.Z < self.z_d) & (self.rho_c < 1.0) & self.body
        self.abdomen = abd
        hu, p = self.hu, self.p
        hu[abd] = FAT
        liver = abd & (self.X < 20.0 - 0.55 * (self.Y - ycc))
        hu[liver] = p.liver_hu
        g = self.g
        box, rho = ellipsoid(
            g, np.array([0.62 * a, ycc + 0.45 * b, self.z_dome_l - 45]), np.array([28, 42, 55.0])
        )
        if box is not None:
            sp = (rho < 1) & abd[box]
            hu[box][sp] = 48.0
        c = np.array([0.36 * a, ycc - 0.1 * b, self.z_dome_l - 42])
        box, rho = ellipsoid(g, c, np.array([46, 40, 48.0]))
        if box is not None:
            st = (rho < 1) & abd[box] & ~liver[box]
            sub = hu[box]
            sub[st & (rho > 0.88)] = 42.0
            inner = st & (rho <= 0.88)
            sub[inner] = 15.0
            if self.rng.random() < 0.7:
                zb = g.z[box[0]]
                sub[inner & (zb > c[2] + self.rng.uniform(0, 25))] = -1000.0
        self.landmarks["stomach"] = c

    # ---------------------------------------------------------------- bones
    def ribs(self) -> None:
        p, hu = self.p, self.hu
        band = self.body & (self.e > -1.0) & (self.e < 13.0)
        kk, jj, ii = np.nonzero(band)
        if kk.size == 0:
            return
        theta = self.theta_c[jj, ii]
        e = self.e[kk, jj, ii]
        z = self.g.z[kk, 0, 0]
        u = (self.z_apex + 14.0 - p.rib_drop * (theta / np.pi) ** 1.15 - z) / p.rib_pitch
        k = np.rint(u)
        dz = (u - k) * p.rib_pitch
        dn = np.sqrt((dz / 5.5) ** 2 + ((e - 5.5) / 3.6) ** 2)
        ends = np.array([0.78, 0.8, 0.82, 0.82, 0.82, 0.8, 0.78, 0.72, 0.62, 0.5, 0.36, 0.28])
        kc = np.clip(k, 0, 11).astype(int)
        ok = (k >= 0) & (k <= 11) & (theta > 0.1 * np.pi)
        bone = ok & (dn < 1) & (theta < ends[kc] * np.pi)
        cart = ok & (dn < 0.85) & (kc <= 6) & (theta >= ends[kc] * np.pi) & (theta < 0.95 * np.pi)
        val = np.where(dn > 0.62, 800.0, p.bone_marrow_hu)
        hu[kk[bone], jj[bone], ii[bone]] = val[bone]
        cart_hu = 110.0 + (150.0 if p.age > 60 else 0.0)
        hu[kk[cart], jj[cart], ii[cart]] = cart_hu

    def spine(self) -> None:
        p, hu = self.p, self.hu
        s = p.half_width / 150.0
        rvx, rvy = 20.0 * s, 16.0 * s
        y_post = self.y_cc + self.b_c
        self.y_vb = y_post - rvy - 2.0
        phase = np.mod((self.Z - self.z_car) / p.vertebra_pitch, 1.0)
        disc = phase < 0.2
        X2, Y2 = self.X2, self.Y2
        rv = np.sqrt((X2 / rvx) ** 2 + ((Y2 - self.y_vb) / rvy) ** 2)
        body2 = rv < 1
        cort2 = rv > 0.84
        vb = body2 & ~disc
        hu[vb & ~cort2] = p.bone_marrow_hu
        hu[vb & cort2] = 620.0
        hu[body2 & disc] = 85.0
        self.vertebra = body2
        y_cn = self.y_vb + rvy + 9.0
        rc = np.sqrt(X2**2 + (Y2 - y_cn) ** 2)
        arch = (rc > 8.0) & (rc < 14.5) & (Y2 > y_cn - 6.0)
        post = (phase > 0.12) & (phase < 0.88)
        hu[arch & post] = 480.0
        spin_phase = np.mod(phase - np.clip((Y2 - y_cn) / 90.0, 0, 1) + 0.0 * X2, 1.0)
        spinous = (np.abs(X2) < 4.0) & (Y2 > y_cn + 12) & (Y2 < y_cn + 32)
        hu[spinous & (spin_phase > 0.2) & (spin_phase < 0.75)] = 500.0
        trans = (np.abs(Y2 - y_cn + 2) < 5.5) & (np.abs(X2) > 10) & (np.abs(X2) < 33 * s)
        hu[trans & (phase > 0.3) & (phase < 0.68)] = 470.0
        hu[:, rc <= 8.0] = 18.0
        self.landmarks["vertebral_body"] = np.array([0.0, self.y_vb, self.z_car])
        self.rv = (rvx, rvy)

    def sternum_scapula_clavicle(self) -> None:
        hu, Z, theta, e = self.hu, self.Z, self.theta_c, self.e
        z_top, z_join = self.z_car + 70.0, self.z_car + 28.0
        z_bot = self.heart.center[2] - 45.0
        w = np.where(Z > z_join, 27.0, 15.0)
        ant = (theta > 0.82 * np.pi) & self.body
        st = ant & (e > 0.5) & (e < 12.5) & (np.abs(self.X2) < w) & (Z < z_top) & (Z > z_bot)
        inner = st & (e > 3.0) & (e < 10.0) & (np.abs(self.X2) < w - 2.5)
        hu[st] = 650.0
        hu[inner] = self.p.bone_marrow_hu
        self.landmarks["sternum"] = np.array([0.0, self.y_cc - self.b_c - 6.0, z_join])
        # scapulae: thin plates on the posterolateral ribs
        half = 0.2 * np.pi * np.clip((Z - (self.z_car - 95.0)) / 150.0, 0.08, 1.0)
        es = 17.0 + 0.15 * self.p.muscle_post
        sc = (
            self.body
            & (np.abs(theta - (0.17 * np.pi + half)) < half)
            & (e > es)
            & (e < es + 4.5)
            & (Z < self.z_car + 75.0)
            & (Z > self.z_car - 95.0)
        )
        hu[sc] = 600.0
        # clavicles
        for sgn in (-1.0, 1.0):
            pts = chaikin(
                np.array(
                    [
                        [sgn * 20.0, self.y_cc - self.b_c - 12.0, self.z_car + 66.0],
                        [
                            sgn * 0.5 * self.p.half_width,
                            self.y_cc - self.b_c - 8.0,
                            self.z_car + 75,
                        ],
                        [
                            sgn * (self.p.half_width - 30),
                            self.y_cc - 0.1 * self.b_c,
                            self.z_car + 90,
                        ],
                    ]
                ),
                2,
            )
            d = tube_distance(self.g, pts, 7.0)
            hu[(d < 1) & self.body] = 700.0
            hu[(d < 0.55) & self.body] = self.p.bone_marrow_hu

    # ---------------------------------------------------------------- mediastinum
    def heart_geometry(self) -> None:
        p = self.p
        u = np.array([0.62, -0.5, -0.45])
        c, s = np.cos(p.heart_rotation), np.sin(p.heart_rotation)
        u = np.array([c * u[0] - s * u[1], s * u[0] + c * u[1], u[2]])
        u /= np.linalg.norm(u)
        v = np.cross(u, [0.0, 0.0, 1.0])
        v /= np.linalg.norm(v)
        w = np.cross(u, v)
        radii = np.array([60.0, 46.0, 41.0]) * p.heart_scale
        center = np.array(
            [0.12 * self.a_c + 10.0, self.y_cc - 0.2 * self.b_c, self.z_dome_l + 0.5 * radii[0]]
        )
        self.heart = HeartGeometry(center, radii, np.stack([u, v, w]))

    def mediastinum(self) -> None:
        g, hu, p = self.g, self.hu, self.p
        hc = self.heart.center
        rvy = self.rv[1]
        y_es = self.y_vb - rvy - 9.0
        y_tr = y_es - 17.0
        self.y_tr = y_tr
        z_top = float(g.z.max()) + 20.0
        z_bot = float(g.z.min()) - 20.0
        z_arch = self.z_car + 32.0
        med = np.zeros(g.shape, bool)
        as_ = p.aorta_scale
        aorta = chaikin(
            np.array(
                [
                    [hc[0] - 22, hc[1] + 8, hc[2] + 38],
                    [hc[0] - 30, hc[1] - 4, self.z_car - 5],
                    [-10.0, y_tr - 24, z_arch],
                    [8.0, y_tr - 6, z_arch + 4],
                    [22.0, y_tr + 16, z_arch - 8],
                    [self.rv[0] + 6, self.y_vb - 6, self.z_car - 25],
                    [self.rv[0] + 2, self.y_vb - 10, z_bot],
                ]
            ),
            3,
        )
        svc = chaikin(
            np.array(
                [
                    [-32.0, y_tr - 12, z_top],
                    [-34.0, y_tr - 10, self.z_car],
                    [hc[0] - 48, hc[1] + 8, hc[2] + 30],
                ]
            ),
            2,
        )
        t = np.linspace(0, 1, len(aorta))
        r_ao = np.interp(t, [0, 0.3, 0.55, 1], [15.5, 14.5, 12.5, 11.0]) * as_
        self.paths["aorta"] = aorta
        self.paths["aorta_radius"] = r_ao
        self.paths["svc"] = svc
        self.landmarks["aortic_arch"] = np.array([0.0, y_tr - 10, z_arch])
        car = np.array([-2.0, y_tr + 3, self.z_car])
        self.landmarks["carina"] = car
        self.landmarks["trachea_top"] = np.array([0.0, y_tr, z_top])
        bif = np.array([4.0, y_tr + 4, self.z_car - 14])
        pt = chaikin(
            np.array(
                [[hc[0] - 2, hc[1] - 30, hc[2] + 28], [hc[0] + 8, y_tr - 20, self.z_car - 20], bif]
            ),
            2,
        )
        self.paths["pulmonary_trunk"] = pt
        self.landmarks["pa_bifurcation"] = bif
        esoph = chaikin(
            np.array(
                [
                    [4.0, y_es, z_top],
                    [6.0, y_es, self.z_car],
                    [14.0, self.y_vb - rvy - 20, self.z_dome_l - 5],
                    [30.0, self.y_vb - rvy - 25, self.z_dome_l - 30],
                ]
            ),
            2,
        )
        self.paths["esophagus"] = esoph
        bcv = chaikin(
            np.array(
                [
                    [45.0, y_tr - 28, z_arch + 30],
                    [0.0, y_tr - 32, z_arch + 22],
                    [-32.0, y_tr - 12, z_arch + 14],
                ]
            ),
            2,
        )
        bct = np.array(
            [
                [-6.0, y_tr - 20, z_arch + 6],
                [-14.0, y_tr - 12, z_arch + 40],
                [-20.0, y_tr - 8, z_top],
            ]
        )
        lcca = np.array([[4.0, y_tr - 14, z_arch + 8], [10.0, y_tr - 12, z_top]])
        lsa = np.array(
            [[14.0, y_tr - 2, z_arch + 6], [24.0, y_tr, z_arch + 40], [40.0, y_tr, z_top]]
        )
        vessels = [
            (aorta, r_ao, self.blood),
            (pt, np.full(len(pt), 13.5 * as_**0.5), self.blood * 1.1),
            (svc, np.full(len(svc), 9.5), self.blood * 1.2),
            (bcv, np.full(len(bcv), 6.0), self.blood * 1.2),
            (bct, np.full(3, 6.0), self.blood),
            (lcca, np.full(2, 4.5), self.blood),
            (lsa, np.full(3, 5.0), self.blood),
        ]
        paints = []
        for pts, radii, val in vessels:
            d = tube_distance(g, pts, radii)
            med |= d < 1.0 + 6.0 / float(np.mean(radii))
            paints.append((d < 1.0, val))
        d_es = tube_distance(g, esoph, 8.0)
        med |= d_es < 1.8
        # heart with pericardial sac
        hg = self.heart
        box, rho_s = ellipsoid(g, hg.center, hg.radii + 6.0, hg.axes)
        _, rho_h = ellipsoid(g, hg.center, hg.radii, hg.axes, box=box)
        above = g.z[box[0]] > self.z_d[None, box[1], box[2]] - 2.0
        sac = (rho_s < 1) & above
        med[box] |= sac
        # central column separating the lungs anteriorly and behind the heart
        col = (
            (np.abs(self.X2 - 2.0) < 11.0)
            & (self.Y2 > self.y_cc - self.b_c - 5)
            & (self.Y2 < self.y_vb)
        )
        med |= col[None] & (self.Z < self.z_car + 85.0)
        vb_zone = (
            np.sqrt(
                (self.X2 / (self.rv[0] + 7)) ** 2 + ((self.Y2 - self.y_vb) / (self.rv[1] + 7)) ** 2
            )
            < 1
        )
        med |= vb_zone[None]
        trachea = chaikin(np.array([[0.0, y_tr, z_top], [0.0, y_tr + 1, self.z_car + 40], car]), 2)
        tr_d = tube_distance(g, trachea, 9.5 * (p.half_width / 150.0) ** 0.5)
        med |= tr_d < 1.5
        self.mediastinum_mask = med & self.body & ~self.abdomen
        # paint: fat first, then organs
        hu[self.mediastinum_mask & ~self.vertebra[None]] = FAT + 5.0
        hu[(d_es < 1.0)] = MUSCLE
        if self.rng.random() < 0.5:
            hu[d_es < 0.25] = -1000.0
        sub = hu[box]
        sub[sac & (rho_s > 1 - 1.6 / float(hg.radii.mean() + 6))] = 30.0
        heart_in = (rho_h < 1) & above
        sub[heart_in] = 45.0 if not self.p.contrast else 110.0
        if self.p.contrast:
            self._chambers(box, sub, heart_in)
        else:
            sub[heart_in & (rho_h < 0.8)] = BLOOD
        for mask, val in paints:
            hu[mask] = val
        self.trachea_path = trachea
        self.trachea_d = tr_d
        self.landmarks["heart"] = hg.center

    def _chambers(self, box, sub: np.ndarray, heart_in: np.ndarray) -> None:
        hg, g = self.heart, self.g
        u, v, _w = hg.axes
        c = hg.center
        R = hg.radii
        specs = [
            (c + 0.15 * R[0] * u - 0.15 * R[1] * v, R * np.array([0.55, 0.45, 0.45]), self.blood),
            (
                c - 0.05 * R[0] * u + 0.45 * R[1] * v,
                R * np.array([0.6, 0.35, 0.55]),
                self.blood * 1.1,
            ),
            (c - 0.55 * R[0] * u - 0.3 * R[1] * v, R * np.array([0.35, 0.4, 0.4]), self.blood),
            (
                c - 0.45 * R[0] * u + 0.5 * R[1] * v,
                R * np.array([0.35, 0.35, 0.4]),
                self.blood * 1.15,
            ),
        ]
        for center, radii, val in specs:
            b2, rho = ellipsoid(g, center, radii, hg.axes)
            if b2 is None:
                continue
            full = np.zeros(g.shape, bool)
            full[b2] = rho < 1
            sub[full[box] & heart_in] = val

    def airways(self) -> None:
        hu = self.hu
        hu[self.trachea_d < 1.0] = 50.0
        hu[self.trachea_d < 0.82] = -1000.0

    # ---------------------------------------------------------------- all
    def build(self) -> tuple[np.ndarray, Chest]:
        self.body_wall()
        self.diaphragm()
        self.ribs()
        self.spine()
        self.heart_geometry()
        self.mediastinum()
        self.sternum_scapula_clavicle()
        self.airways()
        chest = render_lungs(self)
        return self.hu, chest


def build_chest(
    rng: np.random.Generator, grid: Grid, params: PatientParams
) -> tuple[np.ndarray, Chest]:
    """Render a normal chest: ``(hu float32 (nz, ny, nx), Chest)``."""
    return ChestBuilder(rng, grid, params).build()


_Builder = ChestBuilder  # the old private name, kept for existing imports
