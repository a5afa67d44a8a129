"""One 2-D slice view (axial, coronal or sagittal) of the canonical LPS volume.

Mouse: click moves the crosshair (the other views follow), wheel scrolls slices, left-drag
adjusts window/level, shift+left-drag drags the crosshair, right-drag or ctrl+left-drag zooms,
middle-drag pans, double-click maximises/restores. Every gesture is also a method
(:meth:`click`, :meth:`scroll`, :meth:`adjust_window`, :meth:`zoom`, :meth:`pan`) so tests and
voice commands can drive the view without a mouse.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtWidgets import QWidget
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkFiltersSources import vtkLineSource
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage
from vtkmodules.vtkRenderingCore import vtkActor, vtkImageActor, vtkPolyDataMapper, vtkRenderer

from radvoice.app.overlay_text import OverlayText
from radvoice.app.vtk_support import QVTKRenderWindowInteractor, capture_rgb, release_view
from radvoice.components.orientation import VIEW_GEOMETRY, OrientedVolume
from radvoice.components.state import ViewerState

VIEW_COLORS: dict[str, tuple[float, float, float]] = {
    "axial": (0.95, 0.33, 0.30),
    "coronal": (0.35, 0.80, 0.35),
    "sagittal": (0.95, 0.80, 0.25),
    "volume": (0.45, 0.65, 0.95),
}
VIEW_TITLES = {"axial": "Axial", "coronal": "Coronal", "sagittal": "Sagittal", "volume": "3D"}
_AXIS_FOR_NORMAL = {0: "sagittal", 1: "coronal", 2: "axial"}
# screen-edge letters (left, right, top, bottom) for each view
_EDGE_LETTERS = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "S", "I"),
    "sagittal": ("A", "P", "S", "I"),
}
_DRAG_THRESHOLD_PX = 3
BACKGROUND = (0.06, 0.06, 0.07)

HoverCallback = Callable[[str, "tuple[int, int, int] | None"], None]


class SliceView:
    """A VTK slice view bound to a :class:`ViewerState`. ``widget`` goes into the layout."""

    def __init__(
        self,
        name: str,
        state: ViewerState,
        parent: QWidget | None = None,
        schedule_render: Callable[[SliceView], None] | None = None,
        on_hover: HoverCallback | None = None,
    ) -> None:
        self.name = name
        self.geometry = VIEW_GEOMETRY[name]
        self.state = state
        self._schedule = schedule_render
        self._on_hover = on_hover
        self.oriented: OrientedVolume | None = None
        self.slice_index = 0
        self.closed = False
        self._user_camera = False
        self._drag: dict | None = None

        self.widget = QVTKRenderWindowInteractor(parent)
        self.widget.setObjectName(f"view-{name}")
        self.widget.setMinimumSize(120, 120)
        self.render_window = self.widget.GetRenderWindow()
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(*BACKGROUND)
        self.render_window.AddRenderer(self.renderer)

        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputData(_placeholder_image())
        self.actor.GetProperty().SetInterpolationTypeToLinear()
        self.actor.VisibilityOff()
        self.renderer.AddViewProp(self.actor)

        self.layers: list = []  # overlays drawn over the slice (heat map), see heatmap_overlay
        self._lines: dict[int, tuple[vtkLineSource, vtkActor]] = {}
        for axis in (self.geometry.horizontal, self.geometry.vertical):
            src = vtkLineSource()
            mapper = vtkPolyDataMapper()
            mapper.SetInputConnection(src.GetOutputPort())
            line = vtkActor()
            line.SetMapper(mapper)
            line.GetProperty().SetColor(*VIEW_COLORS[_AXIS_FOR_NORMAL[axis]])
            line.GetProperty().SetLineWidth(1.0)
            line.GetProperty().SetOpacity(0.85)
            line.VisibilityOff()
            line.PickableOff()
            self.renderer.AddActor(line)
            self._lines[axis] = (src, line)

        self.corners = OverlayText(self.renderer)
        for pos, letter in zip((6, 5, 7, 4), _EDGE_LETTERS[name], strict=True):
            self.corners.set_text(pos, letter)
        self.corners.set_text(3, VIEW_TITLES[name])
        self.corners.set_color(3, VIEW_COLORS[name])

        self.interactor = self.widget.GetRenderWindow().GetInteractor()
        self.style = vtkInteractorStyleImage()
        self.interactor.SetInteractorStyle(self.style)
        for event, handler in (
            ("LeftButtonPressEvent", self._on_left_down),
            ("LeftButtonReleaseEvent", self._on_button_up),
            ("RightButtonPressEvent", self._on_right_down),
            ("RightButtonReleaseEvent", self._on_button_up),
            ("MiddleButtonPressEvent", self._on_middle_down),
            ("MiddleButtonReleaseEvent", self._on_button_up),
            ("MouseMoveEvent", self._on_move),
            ("MouseWheelForwardEvent", lambda *_: self.scroll(1)),
            ("MouseWheelBackwardEvent", lambda *_: self.scroll(-1)),
            ("LeaveEvent", self._on_leave),
            ("CharEvent", _ignore),  # keys belong to Qt shortcuts, not VTK's defaults
            ("KeyPressEvent", _ignore),
            ("KeyReleaseEvent", _ignore),
        ):
            self.style.AddObserver(event, handler)
        self.interactor.AddObserver("ConfigureEvent", self._on_resize)

        self._subscriptions = (
            ("cursor", self._on_cursor),
            ("window", self._on_window),
            ("crosshair_visible", self._on_crosshair_visible),
            ("show_patient_info", self._on_patient_info),
        )
        for event, handler in self._subscriptions:
            state.events[event].connect(handler)
        self._on_window(state.window)

    # -- data ---------------------------------------------------------------------------------
    def set_volume(self, oriented: OrientedVolume | None, image: vtkImageData | None) -> None:
        """Show a (shared) canonical image; None clears the view."""
        self.oriented = oriented
        if oriented is None or image is None:
            self.actor.VisibilityOff()
            for _src, line in self._lines.values():
                line.VisibilityOff()
            self._update_text()
            self.request_render()
            return
        self.actor.GetMapper().SetInputData(image)
        self.actor.VisibilityOn()
        self._user_camera = False
        self._on_cursor(self.state.cursor)
        self.reset_camera()

    @property
    def slice_count(self) -> int:
        return 0 if self.oriented is None else self.oriented.size[self.geometry.normal]

    def slice_pixels(self) -> np.ndarray | None:
        """The raw HU slice currently shown (rows bottom-to-top), or None."""
        if self.oriented is None:
            return None
        return self.oriented.slice_image(self.name, self.slice_index)

    # -- state listeners ------------------------------------------------------------------------
    def _on_cursor(self, ijk: tuple[int, int, int]) -> None:
        if self.oriented is None or self.closed:
            return
        xyz = self.oriented.to_canonical(ijk)
        self.slice_index = int(xyz[self.geometry.normal])
        extent = self.display_extent()
        self.actor.SetDisplayExtent(*extent)
        for layer in self.layers:
            layer.on_slice(extent)
        self._update_crosshair(xyz)
        self._update_text()
        self.request_render()

    def display_extent(self) -> list[int] | None:
        """The VTK display extent of the shown slice (overlay layers use the same)."""
        if self.oriented is None:
            return None
        extent = [0, self.oriented.size[0] - 1, 0, self.oriented.size[1] - 1]
        extent += [0, self.oriented.size[2] - 1]
        n = self.geometry.normal
        extent[2 * n] = extent[2 * n + 1] = self.slice_index
        return extent

    def _on_window(self, wl: tuple[float, float]) -> None:
        prop = self.actor.GetProperty()
        prop.SetColorWindow(float(wl[0]))
        prop.SetColorLevel(float(wl[1]))
        self._update_text()
        self.request_render()

    def _on_crosshair_visible(self, _visible: bool) -> None:
        if self.oriented is not None:
            self._update_crosshair(self.oriented.to_canonical(self.state.cursor))
            self.request_render()

    def _on_patient_info(self, _show: bool) -> None:
        self._update_text()
        self.request_render()

    def _update_crosshair(self, xyz: tuple[int, int, int]) -> None:
        ov = self.oriented
        if ov is None:
            return
        g = self.geometry
        visible = self.state.crosshair_visible
        # just in front of the slice, towards the camera
        toward_camera = -g.direction_of_projection[g.normal]
        depth = ov.world_of(xyz)[g.normal] + 0.5 * ov.spacing[g.normal] * toward_camera
        lo = ov.world_of((0, 0, 0))
        hi = ov.world_of(tuple(n - 1 for n in ov.size))
        centre = ov.world_of(xyz)
        for axis, (src, line) in self._lines.items():
            other = g.vertical if axis == g.horizontal else g.horizontal
            p1 = [0.0, 0.0, 0.0]
            p2 = [0.0, 0.0, 0.0]
            p1[g.normal] = p2[g.normal] = depth
            p1[axis] = p2[axis] = centre[axis]
            p1[other], p2[other] = lo[other], hi[other]
            src.SetPoint1(*p1)
            src.SetPoint2(*p2)
            line.SetVisibility(visible)

    def _update_text(self) -> None:
        ov = self.oriented
        if ov is None:
            for pos in (0, 1, 2):
                self.corners.set_text(pos, "")
            return
        meta = ov.volume.meta
        upper: list[str] = []
        if self.state.show_patient_info:
            name = meta.get("PatientName")
            if name:
                upper.append(str(name))
        for key in ("StudyDate", "SeriesDescription"):
            value = meta.get(key)
            if value:
                upper.append(_format_date(str(value)) if key == "StudyDate" else str(value))
        self.corners.set_text(2, "\n".join(upper))
        width, level = self.state.window
        self.corners.set_text(
            0,
            f"Slice {self.slice_index + 1}/{self.slice_count}\nW {width:.0f}  L {level:.0f}",
        )

    # -- rendering ------------------------------------------------------------------------------
    def request_render(self) -> None:
        if self.closed:
            return
        if self._schedule is not None:
            self._schedule(self)
        else:
            self.render()

    def render(self) -> None:
        """Render now (GUI thread only); a no-op once closed or while hidden."""
        if self.closed or not self.widget.isVisible():
            return
        self.renderer.ResetCameraClippingRange()
        self.render_window.Render()

    def capture(self) -> np.ndarray:
        """The view's pixels as ``(h, w, 3)`` uint8, top row first."""
        if self.closed:
            raise RuntimeError(f"the {self.name} view is closed")
        self.renderer.ResetCameraClippingRange()
        return capture_rgb(self.render_window)

    def close(self) -> None:
        """Stop listening and release the GL context (call from the window's closeEvent)."""
        release_view(self)

    # -- camera ---------------------------------------------------------------------------------
    def reset_camera(self) -> None:
        """Fit the whole slice in the view, patient orientation per :data:`VIEW_GEOMETRY`."""
        ov = self.oriented
        if ov is None:
            return
        g = self.geometry
        lo = np.array(ov.world_of((0, 0, 0)))
        hi = np.array(ov.world_of(tuple(n - 1 for n in ov.size)))
        centre = (lo + hi) / 2.0
        span = hi - lo + np.array(ov.spacing)
        cam = self.renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        dop = np.array(g.direction_of_projection)
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre - dop * (float(span.max()) * 2.0 + 100.0)))
        cam.SetViewUp(*g.view_up)
        w, h = self.render_window.GetSize()
        aspect = (w / h) if w > 0 and h > 0 else 1.0
        cam.SetParallelScale(0.52 * max(span[g.vertical], span[g.horizontal] / aspect))
        self._user_camera = False
        self.request_render()

    def zoom(self, factor: float) -> None:
        """Magnify by ``factor`` (>1 zooms in)."""
        if factor <= 0:
            raise ValueError("zoom factor must be positive")
        cam = self.renderer.GetActiveCamera()
        cam.SetParallelScale(cam.GetParallelScale() / factor)
        self._user_camera = True
        self.request_render()

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by ``(dx, dy)`` display pixels (VTK: y up)."""
        cam = self.renderer.GetActiveCamera()
        _w, h = self.render_window.GetSize()
        mm_per_px = 2.0 * cam.GetParallelScale() / max(h, 1)
        g = self.geometry
        right = np.cross(g.direction_of_projection, g.view_up)
        shift = -(right * dx + np.array(g.view_up) * dy) * mm_per_px
        cam.SetFocalPoint(*(np.array(cam.GetFocalPoint()) + shift))
        cam.SetPosition(*(np.array(cam.GetPosition()) + shift))
        self._user_camera = True
        self.request_render()

    def camera_state(self) -> tuple:
        """Focal point, position, parallel scale and whether the user moved the camera."""
        cam = self.renderer.GetActiveCamera()
        return (cam.GetFocalPoint(), cam.GetPosition(), cam.GetParallelScale(), self._user_camera)

    def set_camera_state(self, state: tuple) -> None:
        """Put the camera back where :meth:`camera_state` found it."""
        if self.closed:
            return
        focal, position, scale, user = state
        cam = self.renderer.GetActiveCamera()
        cam.SetFocalPoint(*focal)
        cam.SetPosition(*position)
        cam.SetParallelScale(scale)
        self._user_camera = bool(user)
        self.request_render()

    def _on_resize(self, *_args: object) -> None:
        if not self._user_camera and self.oriented is not None:
            self.reset_camera()

    # -- coordinates ----------------------------------------------------------------------------
    def display_to_index(self, x: float, y: float) -> tuple[float, float, float] | None:
        """VTK display pixel (origin bottom-left) -> continuous canonical index on this slice."""
        ov = self.oriented
        if ov is None:
            return None
        r = self.renderer
        r.SetDisplayPoint(float(x), float(y), 0.0)
        r.DisplayToWorld()
        wx, wy, wz, ww = r.GetWorldPoint()
        world = np.array([wx, wy, wz]) / (ww if ww else 1.0)
        idx = list(ov.index_of_world(tuple(world)))
        idx[self.geometry.normal] = float(self.slice_index)
        return tuple(idx)  # type: ignore[return-value]

    def index_to_display(self, xyz: tuple[float, float, float]) -> tuple[float, float]:
        """Canonical index -> VTK display pixel (origin bottom-left)."""
        if self.oriented is None:
            raise RuntimeError("no volume shown")
        r = self.renderer
        r.SetWorldPoint(*self.oriented.world_of(xyz), 1.0)
        r.WorldToDisplay()
        x, y, _z = r.GetDisplayPoint()
        return float(x), float(y)

    def original_index_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        """The volume's voxel index under a display pixel, None outside the volume."""
        idx = self.display_to_index(x, y)
        if idx is None or self.oriented is None:
            return None
        rounded = [int(round(v)) for v in idx]
        if any(not (0 <= v < n) for v, n in zip(rounded, self.oriented.size, strict=True)):
            return None
        return self.oriented.to_original(tuple(rounded))  # type: ignore[arg-type]

    # -- gestures -------------------------------------------------------------------------------
    def click(self, x: float, y: float) -> bool:
        """Move the crosshair to a display pixel (in-plane; this slice stays). False outside."""
        idx = self.display_to_index(x, y)
        if idx is None or self.oriented is None:
            return False
        rounded = [int(round(v)) for v in idx]
        if any(not (0 <= v < n) for v, n in zip(rounded, self.oriented.size, strict=True)):
            return False
        self.state.active_view = self.name
        self.state.cursor = self.oriented.to_original(tuple(rounded))  # type: ignore[arg-type]
        return True

    def scroll(self, steps: int) -> None:
        """Move ``steps`` slices along this view's normal (clamped to the volume)."""
        ov = self.oriented
        if ov is None or self.closed:
            return
        xyz = list(ov.to_canonical(self.state.cursor))
        n = self.geometry.normal
        xyz[n] = min(max(xyz[n] + int(steps), 0), ov.size[n] - 1)
        self.state.active_view = self.name
        self.state.cursor = ov.to_original(tuple(xyz))  # type: ignore[arg-type]

    def adjust_window(self, dx: float, dy: float) -> None:
        """Drag right widens the window, drag up raises the level (display pixels)."""
        width, level = self.state.window
        scale = max(width, 20.0) / 250.0
        self.state.window = (max(1.0, width + dx * scale), level + dy * scale)

    def toggle_maximized(self) -> None:
        self.state.active_view = self.name
        self.state.toggle_maximized(self.name)

    # -- VTK event handlers ---------------------------------------------------------------------
    def _event_pos(self) -> tuple[int, int]:
        return self.interactor.GetEventPosition()

    def _begin(self, mode: str) -> None:
        x, y = self._event_pos()
        self._drag = {"mode": mode, "start": (x, y), "last": (x, y), "moved": False}

    def _on_left_down(self, *_args: object) -> None:
        if self.interactor.GetRepeatCount() > 0:
            self._drag = None
            self.toggle_maximized()
            return
        if self.interactor.GetControlKey():
            self._begin("zoom")
        elif self.interactor.GetShiftKey():
            self._begin("crosshair")
            self.click(*self._event_pos())
        else:
            self._begin("left")

    def _on_right_down(self, *_args: object) -> None:
        self._begin("zoom")

    def _on_middle_down(self, *_args: object) -> None:
        self._begin("pan")

    def _on_button_up(self, *_args: object) -> None:
        drag, self._drag = self._drag, None
        if drag and drag["mode"] == "left" and not drag["moved"]:
            self.click(*drag["start"])

    def _on_move(self, *_args: object) -> None:
        x, y = self._event_pos()
        drag = self._drag
        if drag is None:
            if self._on_hover is not None:
                self._on_hover(self.name, self.original_index_at(x, y))
            return
        lx, ly = drag["last"]
        dx, dy = x - lx, y - ly
        sx, sy = drag["start"]
        if not drag["moved"] and max(abs(x - sx), abs(y - sy)) < _DRAG_THRESHOLD_PX:
            return
        drag["moved"] = True
        drag["last"] = (x, y)
        mode = drag["mode"]
        if mode == "left":
            self.adjust_window(dx, dy)
        elif mode == "crosshair":
            self.click(x, y)
        elif mode == "zoom":
            self.zoom(1.01**dy)
        elif mode == "pan":
            self.pan(dx, dy)

    def _on_leave(self, *_args: object) -> None:
        if self._on_hover is not None:
            self._on_hover(self.name, None)


def _placeholder_image() -> vtkImageData:
    """A 1-voxel image so that an empty view renders without pipeline errors."""
    image = vtkImageData()
    image.SetDimensions(1, 1, 1)
    image.AllocateScalars(4, 1)  # VTK_SHORT
    image.GetPointData().GetScalars().SetValue(0, -1024)
    return image


def _ignore(*_args: object) -> None:
    """Swallow an event so that VTK's default key bindings ('e' exits, 'w' wireframe) stay off."""


def _format_date(value: str) -> str:
    """DICOM YYYYMMDD -> YYYY-MM-DD; anything else unchanged."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value
