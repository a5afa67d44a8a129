"""The heat-map overlay on the three slice views, mirroring a :class:`HeatmapState`.

Each slice view gets a second image actor over the CT slice (a quarter voxel towards the
camera), coloured on the fly by a lookup table over the map's value range: transparent below
the display threshold, the layer's opacity on top; and a colour bar with the value range.
State events may come from the heat-map worker: they reach the views through a queued Qt
signal, so VTK is only touched on the GUI thread, and never after the window closed.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor
from vtkmodules.vtkRenderingCore import vtkImageActor

from radvoice.app.colormaps import colormap_rgb, overlay_rgba
from radvoice.app.heatmap_state import HeatmapState
from radvoice.app.qt_bridge import GuiListener
from radvoice.app.vtk_support import image_data_from_array

LUT_SIZE = 256


def make_lut(rgba: np.ndarray, value_range: tuple[float, float]) -> vtkLookupTable:
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(len(rgba))
    for i, (r, g, b, a) in enumerate(rgba):
        lut.SetTableValue(i, float(r), float(g), float(b), float(a))
    lut.SetTableRange(*value_range)
    lut.Build()
    return lut


class SliceLayer:
    """The overlay actor and colour bar of one :class:`SliceView`."""

    def __init__(self, view) -> None:
        self.view = view
        self.actor = vtkImageActor()
        prop = self.actor.GetProperty()
        prop.SetInterpolationTypeToLinear()
        prop.UseLookupTableScalarRangeOn()
        self.actor.VisibilityOff()
        self.actor.PickableOff()
        view.renderer.AddViewProp(self.actor)
        self.bar = vtkScalarBarActor()
        self.bar.SetNumberOfLabels(3)
        self.bar.SetLabelFormat("%.2g")
        self.bar.SetOrientationToVertical()
        self.bar.SetPosition(0.90, 0.25)
        self.bar.SetWidth(0.08)
        self.bar.SetHeight(0.5)
        self.bar.UnconstrainedFontSizeOn()
        self.bar.GetLabelTextProperty().SetFontSize(11)
        self.bar.GetLabelTextProperty().ShadowOff()
        self.bar.GetLabelTextProperty().ItalicOff()
        self.bar.VisibilityOff()
        view.renderer.AddViewProp(self.bar)
        self.has_image = False
        view.layers.append(self)

    def set_image(self, image, spacing_toward_camera: float) -> None:
        if image is None:
            self.has_image = False
            self.actor.VisibilityOff()
            self.bar.VisibilityOff()
            return
        self.actor.GetMapper().SetInputData(image)
        g = self.view.geometry
        offset = -np.array(g.direction_of_projection) * 0.25 * spacing_toward_camera
        self.actor.SetPosition(*offset)
        self.has_image = True
        self.set_extent(self.view.display_extent())

    def set_extent(self, extent) -> None:
        if self.has_image and extent is not None:
            self.actor.SetDisplayExtent(*extent)

    def set_look(self, lut, bar_lut, opacity: float, visible: bool) -> None:
        prop = self.actor.GetProperty()
        prop.SetLookupTable(lut)
        prop.SetOpacity(float(opacity))
        self.bar.SetLookupTable(bar_lut)
        shown = visible and self.has_image
        self.actor.SetVisibility(shown)
        self.bar.SetVisibility(shown)

    def on_slice(self, extent) -> None:
        self.set_extent(extent)


class HeatmapOverlay(QObject):
    """Mirrors ``state`` on ``views`` (name → SliceView); ``window.schedule_render`` renders."""

    def __init__(self, state: HeatmapState, views: dict, schedule_render, parent: QObject):
        super().__init__(parent)
        self.state = state
        self.views = views
        self._schedule = schedule_render
        self.closed = False
        self.layers = {name: SliceLayer(view) for name, view in views.items()}
        self.image = None
        self.canonical: np.ndarray | None = None
        self._listener = GuiListener(state.events.changed, self._on_change, self)

    def _on_change(self, change) -> None:
        if self.closed:
            return
        name = change[0]
        if name == "map":
            self.refresh_map()
        elif name in ("visible", "opacity", "threshold", "colormap"):
            self.refresh_look()

    def refresh_map(self) -> None:
        """Rebuild the overlay image from the state's map (GUI thread)."""
        if self.closed:
            return
        st = self.state
        views = list(self.views.values())
        oriented = views[0].oriented if views else None
        arr = st.map
        if arr is None or oriented is None or st.volume is not oriented.volume:
            self.image, self.canonical = None, None
            for layer in self.layers.values():
                layer.set_image(None, 0.0)
        else:
            self.canonical = oriented.canonical(arr)
            self.image = image_data_from_array(self.canonical, oriented.spacing, oriented.origin)
            for name, layer in self.layers.items():
                normal = self.views[name].geometry.normal
                layer.set_image(self.image, oriented.spacing[normal])
        self.refresh_look()

    def refresh_look(self) -> None:
        if self.closed:
            return
        st = self.state
        lut = make_lut(overlay_rgba(st.colormap, st.threshold, LUT_SIZE), st.value_range)
        bar_rgb = np.ones((LUT_SIZE, 4))
        bar_rgb[:, :3] = colormap_rgb(st.colormap, LUT_SIZE)
        bar_lut = make_lut(bar_rgb, st.value_range)
        for layer in self.layers.values():
            layer.set_look(lut, bar_lut, st.opacity, st.visible)
        for view in self.views.values():  # the slice views only: the 3D view is not affected
            self._schedule(view)

    @property
    def shown(self) -> bool:
        """The overlay actors are on (a map is loaded and visible)."""
        return any(layer.actor.GetVisibility() for layer in self.layers.values())

    def close(self) -> None:
        """Stop mirroring the state (before the views are released)."""
        self.closed = True
        self._listener.detach()
