"""Colormaps for parametric overlays (no Qt, no VTK): RGBA tables with a display threshold."""

from __future__ import annotations

import numpy as np

# viridis at 9 evenly spaced stops (matplotlib's values), interpolated linearly
_VIRIDIS = np.array(
    [
        [0.267, 0.005, 0.329],
        [0.278, 0.175, 0.483],
        [0.231, 0.322, 0.546],
        [0.172, 0.449, 0.558],
        [0.128, 0.567, 0.551],
        [0.153, 0.680, 0.511],
        [0.362, 0.786, 0.388],
        [0.678, 0.864, 0.190],
        [0.993, 0.906, 0.144],
    ]
)


def colormap_rgb(name: str, n: int = 256) -> np.ndarray:
    """``(n, 3)`` float RGB in [0, 1] from low to high values."""
    t = np.linspace(0.0, 1.0, int(n))
    if name == "hot":
        rgb = np.stack([3 * t, 3 * t - 1, 3 * t - 2], axis=1)
    elif name == "jet":
        rgb = np.stack(
            [1.5 - np.abs(4 * t - 3), 1.5 - np.abs(4 * t - 2), 1.5 - np.abs(4 * t - 1)], axis=1
        )
    elif name == "viridis":
        stops = np.linspace(0.0, 1.0, len(_VIRIDIS))
        rgb = np.stack([np.interp(t, stops, _VIRIDIS[:, c]) for c in range(3)], axis=1)
    else:
        raise ValueError(f"unknown colormap {name!r}")
    return np.clip(rgb, 0.0, 1.0)


def overlay_rgba(name: str, threshold: float, n: int = 256) -> np.ndarray:
    """``(n, 4)`` RGBA: the colormap, fully transparent below ``threshold`` (fraction of the
    range), opaque from it on (the layer's opacity scales the whole overlay)."""
    rgba = np.ones((int(n), 4))
    rgba[:, :3] = colormap_rgb(name, n)
    below = np.linspace(0.0, 1.0, int(n)) < float(threshold)
    rgba[below, 3] = 0.0
    return rgba
