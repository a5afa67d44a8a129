"""What findings need to know about a chest: masks, lobes, landmarks, airway and vessel trees."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import ndimage

from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.trees import Tree

LOBE_NAMES = {
    1: "right upper lobe",
    2: "right middle lobe",
    3: "right lower lobe",
    4: "left upper lobe",
    5: "left lower lobe",
    6: "lingula",
}
LOBE_SIDE = {1: "right", 2: "right", 3: "right", 4: "left", 5: "left", 6: "left"}
UPPER_LOBES = (1, 4)
LOWER_LOBES = (3, 5)


@dataclass
class HeartGeometry:
    """The heart as an ellipsoid: centre (mm), radii (mm) and axes (rows, unit vectors)."""

    center: np.ndarray
    radii: np.ndarray
    axes: np.ndarray

    def scaled(self, factor: float) -> HeartGeometry:
        return HeartGeometry(self.center.copy(), self.radii * factor, self.axes.copy())


@dataclass
class Chest:
    """A rendered chest (synthetic or real) as the findings see it.

    Masks are bool arrays on ``grid``; ``lobes`` uses the codes of :data:`LOBE_NAMES`.
    ``landmarks`` holds named LPS points (mm); ``paths`` named polylines (n, 3).
    ``supported`` lists the finding names that can be inserted into this chest.
    """

    grid: Grid
    body: np.ndarray
    lungs: np.ndarray  # int8: 0 none, 1 right, 2 left
    lobes: np.ndarray
    mediastinum: np.ndarray
    mediastinal_fat: np.ndarray
    cavity_wall: np.ndarray  # soft tissue just outside the lungs (chest wall), for fluid
    subcutaneous_fat: np.ndarray
    heart: HeartGeometry | None
    landmarks: dict[str, np.ndarray]
    paths: dict[str, np.ndarray]
    diaphragm_z: np.ndarray  # (ny, nx) z of the diaphragm surface
    airway_lumen: np.ndarray | None = None  # float32 fraction of air in intrapulmonary bronchi
    bronchi: dict[str, Tree] = field(default_factory=dict)  # side -> bronchial tree (lumen radii)
    arteries: dict[str, Tree] = field(default_factory=dict)
    supported: frozenset[str] = frozenset()
    synthetic: bool = True
    tissue: dict[str, float] = field(default_factory=dict)  # e.g. blood_hu

    def lungs_changed(self) -> None:
        """Call after painting over lung voxels (drops cached distances, syncs lobes)."""
        self.lobes[self.lungs == 0] = 0
        self.__dict__.pop("pleural_depth", None)

    def lung(self, side: str | None = None) -> np.ndarray:
        if side is None or side == "bilateral":
            return self.lungs > 0
        return self.lungs == (1 if side == "right" else 2)

    @cached_property
    def pleural_depth(self) -> np.ndarray:
        """Distance (mm) from each lung voxel to the nearest non-lung voxel (0 outside)."""
        lung = self.lungs > 0
        out = np.zeros(lung.shape, np.float32)
        if not lung.any():
            return out
        k, j, i = np.nonzero(lung)
        box = tuple(slice(max(0, int(a.min()) - 1), int(a.max()) + 2) for a in (k, j, i))
        out[box] = ndimage.distance_transform_edt(lung[box], sampling=self.grid.spacing[::-1])
        return out

    def lung_points(self, rng: np.random.Generator, n: int, where: np.ndarray) -> np.ndarray:
        """``n`` random LPS points (mm) in the voxels of ``where`` (empty if none)."""
        idx = np.flatnonzero(where)
        if idx.size == 0:
            return np.zeros((0, 3))
        pick = idx[rng.integers(0, idx.size, size=n)]
        kji = np.stack(np.unravel_index(pick, where.shape), axis=1).astype(float)
        kji += rng.uniform(-0.5, 0.5, kji.shape)
        return self.grid.to_mm(kji)
