"""Qt-free state of the heat-map overlay ("where the model looks" for the asked pathology).

:class:`HeatmapState` holds one float32 map in the open volume's grid ``(nz, ny, nx)`` and how
it is shown, the way Slicer and OHIF show a parametric map: a colormap over the map's value
range, an opacity (0.5 to start), a display threshold (a fraction of the range: voxels below
it are transparent) and a visibility toggle. The views only mirror it.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np

from radvoice.components.events import EmitterGroup
from radvoice.components.state import _State
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES

COLORMAPS: tuple[str, ...] = ("hot", "jet", "viridis")
DEFAULT_OPACITY = 0.5
DEFAULT_THRESHOLD = 0.2
NO_HEATMAP_STATUS = "Ask about a finding to see where the model looks"


class HeatmapPhase(StrEnum):
    EMPTY = "empty"
    COMPUTING = "computing"
    READY = "ready"
    ERROR = "error"


class HeatmapState(_State):
    """One heat map (or none) and its display settings; events per field plus ``changed``."""

    def __init__(self) -> None:
        self.events = EmitterGroup(
            "map", "visible", "opacity", "threshold", "colormap", "phase", "status"
        )
        self._map: np.ndarray | None = None
        self._volume: Volume | None = None
        self._pathology: str | None = None
        self._value_range: tuple[float, float] = (0.0, 1.0)
        self._visible = True
        self._opacity = DEFAULT_OPACITY
        self._threshold = DEFAULT_THRESHOLD
        self._colormap = COLORMAPS[0]
        self._phase = HeatmapPhase.EMPTY
        self._status = NO_HEATMAP_STATUS

    # the map ---------------------------------------------------------------------------------
    @property
    def map(self) -> np.ndarray | None:
        """The float32 map in the volume's grid (read-only view), or None."""
        return self._map

    @property
    def volume(self) -> Volume | None:
        """The volume the map belongs to."""
        return self._volume

    @property
    def pathology(self) -> str | None:
        return self._pathology

    @property
    def value_range(self) -> tuple[float, float]:
        """``(min, max)`` of the map (the colour bar's ends)."""
        return self._value_range

    @property
    def has_map(self) -> bool:
        return self._map is not None

    def set_map(self, volume: Volume, pathology: str, heatmap: np.ndarray, status: str = "") -> None:
        """Show ``heatmap`` (the volume's grid, finite values) for ``pathology``."""
        if pathology not in PATHOLOGIES:
            raise ValueError(f"unknown CT-RATE label {pathology!r}")
        arr = np.asarray(heatmap, dtype=np.float32)
        if arr.shape != volume.shape:
            raise ValueError(f"heat map shape {arr.shape} is not the volume's {volume.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("the heat map has non-finite values")
        arr = arr.view()  # read-only for the views; the caller's array stays writeable
        arr.flags.writeable = False
        lo, hi = float(arr.min()), float(arr.max())
        self._volume, self._pathology = volume, pathology
        self._value_range = (lo, hi if hi > lo else lo + 1.0)
        self._map = arr
        self.events.emit("map", arr)
        self._set("phase", HeatmapPhase.READY)
        self._set("status", status or f"Where the model looks: {pathology}")

    def clear(self, status: str = NO_HEATMAP_STATUS, phase: HeatmapPhase = HeatmapPhase.EMPTY):
        """No map (a new volume, an error, or nothing asked yet)."""
        had = self._map is not None
        self._map, self._volume, self._pathology = None, None, None
        if had:
            self.events.emit("map", None)
        self._set("phase", HeatmapPhase(phase))
        self._set("status", status)

    def set_computing(self, pathology: str) -> None:
        """A map for ``pathology`` is being computed (the current one, if any, stays)."""
        self._set("phase", HeatmapPhase.COMPUTING)
        self._set("status", f"Computing where the model looks for {pathology}…")

    def fail(self, message: str) -> None:
        self._set("phase", HeatmapPhase.ERROR)
        self._set("status", message)

    @property
    def phase(self) -> HeatmapPhase:
        return self._phase

    @property
    def status(self) -> str:
        return self._status

    # display ---------------------------------------------------------------------------------
    @property
    def visible(self) -> bool:
        return self._visible

    @visible.setter
    def visible(self, on: bool) -> None:
        self._set("visible", bool(on))

    def toggle(self) -> bool:
        self.visible = not self._visible
        return self._visible

    @property
    def shown(self) -> bool:
        """A map exists and is visible."""
        return self._visible and self._map is not None

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._set("opacity", _fraction(value, "opacity"))

    @property
    def threshold(self) -> float:
        """Display threshold as a fraction of the value range (0: everything shown)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._set("threshold", _fraction(value, "threshold"))

    @property
    def threshold_value(self) -> float:
        """The threshold in the map's own units."""
        lo, hi = self._value_range
        return lo + self._threshold * (hi - lo)

    @property
    def colormap(self) -> str:
        return self._colormap

    @colormap.setter
    def colormap(self, name: str) -> None:
        if name not in COLORMAPS:
            raise ValueError(f"unknown colormap {name!r} (one of {', '.join(COLORMAPS)})")
        self._set("colormap", name)

    # the hottest voxel -----------------------------------------------------------------------
    def peak_index(self) -> tuple[int, int, int] | None:
        """Voxel index ``(i, j, k)`` of the map's maximum (the first one on ties), or None."""
        if self._map is None:
            return None
        k, j, i = np.unravel_index(int(np.argmax(self._map)), self._map.shape)
        return int(i), int(j), int(k)


def _fraction(value: float, what: str) -> float:
    v = float(value)
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{what} must be in [0, 1], got {value!r}")
    return v
