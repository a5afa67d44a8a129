"""Patient-oriented display geometry (no Qt, no VTK).

A :class:`~radvoice.imaging.volume.Volume` may be stored in any axis order and sign (the
``direction`` matrix). For display we re-order it, without resampling, onto the nearest LPS
axes: ``canonical[z, y, x]`` with x towards the patient's Left, y Posterior, z Superior. The
views then only need fixed cameras (see :data:`VIEW_GEOMETRY`). An oblique direction (gantry
tilt) is snapped to the nearest axes; :attr:`OrientedVolume.oblique_deg` says by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radvoice.imaging.volume import Volume


@dataclass(frozen=True)
class ViewGeometry:
    """How a slice view looks at canonical LPS space.

    ``normal`` is the canonical axis (0=x L, 1=y P, 2=z S) the view slices along;
    ``horizontal``/``vertical`` the axes shown left-to-right and bottom-to-top;
    ``direction_of_projection`` and ``view_up`` the camera vectors.
    """

    normal: int
    horizontal: int
    vertical: int
    direction_of_projection: tuple[float, float, float]
    view_up: tuple[float, float, float]


# Radiological conventions: axial seen from the feet (patient left on screen right, anterior
# up); coronal seen from the front (head up, patient left on screen right); sagittal seen from
# the patient's left (head up, anterior on screen left).
VIEW_GEOMETRY: dict[str, ViewGeometry] = {
    "axial": ViewGeometry(2, 0, 1, (0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),
    "coronal": ViewGeometry(1, 0, 2, (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "sagittal": ViewGeometry(0, 1, 2, (-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
}
SLICE_VIEWS: tuple[str, ...] = ("axial", "coronal", "sagittal")


class OrientedVolume:
    """A volume re-ordered onto LPS axes, with index maps both ways."""

    def __init__(self, volume: Volume) -> None:
        self.volume = volume
        d = np.asarray(volume.direction, dtype=float)
        # perm[a] = the volume axis (0=i, 1=j, 2=k) closest to LPS axis a; flip[a] its sign.
        perm = [-1, -1, -1]
        remaining = [0, 1, 2]
        for a in np.argsort(-np.abs(d).max(axis=1)):  # most decisive LPS axis first
            best = max(remaining, key=lambda col, a=a: abs(d[a, col]))
            perm[int(a)] = best
            remaining.remove(best)
        self.perm = tuple(perm)
        self.flip = tuple(bool(d[a, perm[a]] < 0) for a in range(3))
        cosines = [abs(d[a, perm[a]]) / max(np.linalg.norm(d[:, perm[a]]), 1e-12) for a in range(3)]
        self.oblique_deg = float(np.degrees(np.arccos(np.clip(min(cosines), -1.0, 1.0))))

        size = volume.size_xyz
        self.size = tuple(int(size[perm[a]]) for a in range(3))  # canonical (nx, ny, nz)
        self.spacing = tuple(float(volume.spacing[perm[a]]) for a in range(3))
        self.array = self.canonical(volume.array)
        self.origin = tuple(float(v) for v in volume.index_to_lps(self.to_original((0, 0, 0))))

    def canonical(self, array: np.ndarray) -> np.ndarray:
        """An array in the volume's grid ``(nz, ny, nx)`` (e.g. a heat map) re-ordered like
        :attr:`array` (a contiguous copy)."""
        perm = self.perm
        # numpy axis of volume axis d is 2 - d; canonical numpy order is (z, y, x)
        arr = np.transpose(array, (2 - perm[2], 2 - perm[1], 2 - perm[0]))
        flips = tuple(2 - a for a in range(3) if self.flip[a])
        if flips:
            arr = np.flip(arr, axis=flips)
        return np.ascontiguousarray(arr)

    def to_original(self, xyz: tuple[float, float, float]) -> tuple[int, int, int]:
        """Canonical index (x, y, z) -> the volume's voxel index (i, j, k)."""
        ijk = [0, 0, 0]
        for a in range(3):
            v = int(round(float(xyz[a])))
            ijk[self.perm[a]] = self.size[a] - 1 - v if self.flip[a] else v
        return tuple(ijk)  # type: ignore[return-value]

    def to_canonical(self, ijk: tuple[float, float, float]) -> tuple[int, int, int]:
        """The volume's voxel index (i, j, k) -> canonical index (x, y, z)."""
        out = [0, 0, 0]
        for a in range(3):
            v = int(round(float(ijk[self.perm[a]])))
            out[a] = self.size[a] - 1 - v if self.flip[a] else v
        return tuple(out)  # type: ignore[return-value]

    def world_of(self, xyz: tuple[float, float, float]) -> tuple[float, float, float]:
        """Display world position (mm, LPS axes) of a canonical index."""
        return tuple(self.origin[a] + float(xyz[a]) * self.spacing[a] for a in range(3))  # type: ignore[return-value]

    def index_of_world(self, world: tuple[float, float, float]) -> tuple[float, float, float]:
        """Continuous canonical index of a display world position."""
        return tuple((float(world[a]) - self.origin[a]) / self.spacing[a] for a in range(3))  # type: ignore[return-value]

    def slice_image(self, view: str, index: int) -> np.ndarray:
        """The 2-D canonical slice a view shows, rows bottom-to-top in display order."""
        g = VIEW_GEOMETRY[view]
        sl: list[slice | int] = [slice(None)] * 3
        sl[2 - g.normal] = int(index)
        img = self.array[tuple(sl)]
        # remaining numpy axes are in (z, y, x) order minus the normal; rows = vertical axis
        return img if (2 - g.vertical) < (2 - g.horizontal) else img.T

    def downsampled(self, max_dim: int) -> tuple[np.ndarray, tuple[float, float, float]]:
        """Strided copy with every axis at most ``max_dim`` voxels, and its spacing."""
        steps = [max(1, int(np.ceil(n / max_dim))) for n in self.size]
        arr = self.array[:: steps[2], :: steps[1], :: steps[0]]
        spacing = tuple(self.spacing[a] * steps[a] for a in range(3))
        return np.ascontiguousarray(arr), spacing  # type: ignore[return-value]
