"""The 3-D volume-rendering view.

GPU ray casting (vtkSmartVolumeMapper) on a real GPU; on Mesa llvmpipe GPU ray casting costs
about 2 s a frame, so there it uses vtkFixedPointVolumeRayCastMapper (CPU) on a downsampled
copy, with a coarser sample distance that auto-adjusts while the user rotates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkCommonDataModel import vtkPiecewiseFunction
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkRenderer,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

from radvoice.app.overlay_text import OverlayText
from radvoice.app.render_presets import PRESETS
from radvoice.app.slice_view import BACKGROUND, VIEW_COLORS, VIEW_TITLES
from radvoice.app.vtk_support import (
    QVTKRenderWindowInteractor,
    capture_rgb,
    image_data_from_array,
    is_software_renderer,
    release_view,
)
from radvoice.components.orientation import OrientedVolume
from radvoice.components.state import RENDER_PRESET_TITLES, ViewerState

DEFAULT_MAX_DIM = 256


class VolumeView:
    """A 3-D view of the canonical volume with a rendering preset from the state."""

    def __init__(
        self,
        state: ViewerState,
        parent: QWidget | None = None,
        schedule_render: Callable[[VolumeView], None] | None = None,
        max_dim: int = DEFAULT_MAX_DIM,
        force_cpu: bool | None = None,
    ) -> None:
        self.name = "volume"
        self.state = state
        self.max_dim = max_dim
        self._schedule = schedule_render
        self._force_cpu = force_cpu
        self.closed = False
        self.oriented: OrientedVolume | None = None
        self.cpu_mapper: bool | None = None

        self.widget = QVTKRenderWindowInteractor(parent)
        self.widget.setObjectName("view-volume")
        self.widget.setMinimumSize(120, 120)
        self.render_window = self.widget.GetRenderWindow()
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*BACKGROUND)
        self.renderer.SetBackground2(0.16, 0.17, 0.20)
        self.renderer.GradientBackgroundOn()
        self.render_window.AddRenderer(self.renderer)

        self.volume = vtkVolume()
        self.property = vtkVolumeProperty()
        self.property.SetInterpolationTypeToLinear()
        self.property.SetAmbient(0.25)
        self.property.SetDiffuse(0.8)
        self.property.SetSpecular(0.2)
        self.volume.SetProperty(self.property)
        self.volume.VisibilityOff()
        self.renderer.AddVolume(self.volume)
        self.mapper = None

        self.corners = OverlayText(self.renderer)
        self.corners.set_text(3, VIEW_TITLES["volume"])
        self.corners.set_color(3, VIEW_COLORS["volume"])

        self.interactor = self.render_window.GetInteractor()
        self.interactor.SetDesiredUpdateRate(8.0)
        self.interactor.SetStillUpdateRate(0.01)
        self.style = vtkInteractorStyleTrackballCamera()
        self.interactor.SetInteractorStyle(self.style)
        self.style.AddObserver("LeftButtonPressEvent", self._on_left_down)
        for event in ("CharEvent", "KeyPressEvent", "KeyReleaseEvent"):
            self.style.AddObserver(event, lambda *_: None)

        self._subscriptions = (
            ("render_preset", self._on_preset),
            ("window", self._on_window),
        )
        for event, handler in self._subscriptions:
            state.events[event].connect(handler)

    # -- data ---------------------------------------------------------------------------------
    def _make_mapper(self) -> None:
        if self.mapper is not None:
            return
        cpu = self._force_cpu
        if cpu is None:
            cpu = is_software_renderer(self.render_window)
        self.cpu_mapper = bool(cpu)
        if cpu:
            mapper = vtkFixedPointVolumeRayCastMapper()
            mapper.SetAutoAdjustSampleDistances(1)
            mapper.SetImageSampleDistance(1.0)
            mapper.SetMinimumImageSampleDistance(1.0)
            mapper.SetMaximumImageSampleDistance(4.0)
            mapper.SetNumberOfThreads(2)
        else:
            mapper = vtkSmartVolumeMapper()
            mapper.SetRequestedRenderModeToGPU()
            mapper.SetAutoAdjustSampleDistances(1)
        self.mapper = mapper
        self.volume.SetMapper(mapper)

    def set_volume(self, oriented: OrientedVolume | None) -> None:
        self.oriented = oriented
        if oriented is None:
            self.volume.VisibilityOff()
            self.request_render()
            return
        self._make_mapper()
        arr, spacing = oriented.downsampled(self.max_dim)
        self._image = image_data_from_array(arr, spacing, oriented.origin)
        self.mapper.SetInputData(self._image)
        if self.cpu_mapper:
            # about two samples per (downsampled) voxel: coarse but ~10x faster than 0.5 mm
            self.mapper.SetSampleDistance(float(min(spacing)) * 0.8)
        self.volume.VisibilityOn()
        self._apply_preset()
        self.reset_camera()

    def _apply_preset(self) -> None:
        name = self.state.render_preset
        preset = PRESETS[name]
        colors = vtkColorTransferFunction()
        opacity = vtkPiecewiseFunction()
        if preset.mip:
            width, level = self.state.window
            lo, hi = level - width / 2.0, level + width / 2.0
            colors.AddRGBPoint(lo, 0.0, 0.0, 0.0)
            colors.AddRGBPoint(hi, 1.0, 1.0, 1.0)
            opacity.AddPoint(lo, 0.0)
            opacity.AddPoint(hi, 1.0)
        else:
            for hu, r, g, b in preset.colors:
                colors.AddRGBPoint(hu, r, g, b)
            for hu, a in preset.opacities:
                opacity.AddPoint(hu, a)
        self.property.SetColor(colors)
        self.property.SetScalarOpacity(opacity)
        self.property.SetShade(preset.shade)
        if self.mapper is not None:
            if preset.mip:
                self.mapper.SetBlendModeToMaximumIntensity()
            else:
                self.mapper.SetBlendModeToComposite()
        self.corners.set_text(2, RENDER_PRESET_TITLES[name])
        self.request_render()

    def _on_preset(self, _name: str) -> None:
        if self.oriented is not None:
            self._apply_preset()

    def _on_window(self, _wl: tuple[float, float]) -> None:
        if self.oriented is not None and PRESETS[self.state.render_preset].mip:
            self._apply_preset()

    # -- camera / rendering ---------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Anterior view, head up, patient left on screen right, slightly from the right side."""
        if self.oriented is None:
            return
        ov = self.oriented
        lo = np.array(ov.world_of((0, 0, 0)))
        hi = np.array(ov.world_of(tuple(n - 1 for n in ov.size)))
        centre = (lo + hi) / 2.0
        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOff()
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + np.array([0.0, -1.0, 0.0])))
        cam.SetViewUp(0.0, 0.0, 1.0)
        cam.Azimuth(-20.0)
        cam.Elevation(10.0)
        cam.OrthogonalizeViewUp()
        self.renderer.ResetCamera(*_bounds(lo, hi))
        self.request_render()

    def request_render(self) -> None:
        if self.closed:
            return
        if self._schedule is not None:
            self._schedule(self)
        else:
            self.render()

    def render(self) -> None:
        if self.closed or not self.widget.isVisible():
            return
        self.render_window.Render()

    def capture(self) -> np.ndarray:
        if self.closed:
            raise RuntimeError(f"the {self.name} view is closed")
        return capture_rgb(self.render_window)

    def close(self) -> None:
        release_view(self)

    def toggle_maximized(self) -> None:
        self.state.active_view = self.name
        self.state.toggle_maximized(self.name)

    def _on_left_down(self, *_args: object) -> None:
        if self.interactor.GetRepeatCount() > 0:
            self.toggle_maximized()
            return
        self.style.OnLeftButtonDown()


def _bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[float, ...]:
    a, b = np.minimum(lo, hi), np.maximum(lo, hi)
    return (a[0], b[0], a[1], b[1], a[2], b[2])
