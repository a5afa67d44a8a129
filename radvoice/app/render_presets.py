"""Volume-rendering presets as plain data (HU -> colour / opacity points). No Qt, no VTK."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RenderPreset:
    """Piecewise-linear transfer functions; ``mip`` switches to maximum-intensity projection."""

    colors: tuple[tuple[float, float, float, float], ...]  # (HU, r, g, b)
    opacities: tuple[tuple[float, float], ...]  # (HU, opacity)
    shade: bool = True
    mip: bool = False


PRESETS: dict[str, RenderPreset] = {
    # after ParaView/Slicer "CT-Bone"
    "ct-bone": RenderPreset(
        colors=(
            (-3024, 0.0, 0.0, 0.0),
            (-16, 0.73, 0.25, 0.30),
            (641, 0.91, 0.82, 0.55),
            (3071, 1.0, 1.0, 1.0),
        ),
        opacities=((-3024, 0.0), (-16, 0.0), (641, 0.72), (3071, 0.71)),
    ),
    # lung parenchyma, airways and vessels as a translucent shell, bone faint
    "ct-lung": RenderPreset(
        colors=(
            (-1024, 0.0, 0.0, 0.0),
            (-800, 0.55, 0.35, 0.30),
            (-500, 0.95, 0.65, 0.55),
            (0, 0.85, 0.35, 0.30),
            (400, 1.0, 0.95, 0.85),
            (3071, 1.0, 1.0, 1.0),
        ),
        opacities=(
            (-1024, 0.0),
            (-900, 0.0),
            (-750, 0.03),
            (-500, 0.12),
            (-350, 0.0),
            (250, 0.0),
            (500, 0.25),
            (3071, 0.35),
        ),
    ),
    # skin and muscle, fat faint
    "soft-tissue": RenderPreset(
        colors=(
            (-1024, 0.0, 0.0, 0.0),
            (-150, 0.55, 0.25, 0.15),
            (40, 0.85, 0.50, 0.40),
            (300, 1.0, 0.92, 0.85),
            (3071, 1.0, 1.0, 1.0),
        ),
        opacities=((-1024, 0.0), (-300, 0.0), (-100, 0.04), (40, 0.25), (300, 0.45), (3071, 0.6)),
    ),
    # grey ramp over the current window (filled in from W/L at render time)
    "mip": RenderPreset(
        colors=((0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0)),
        opacities=((0.0, 0.0), (1.0, 1.0)),
        shade=False,
        mip=True,
    ),
}
