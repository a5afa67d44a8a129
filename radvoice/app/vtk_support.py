"""VTK plumbing shared by the views: the Qt widget class, numpy <-> VTK, capture, GL checks."""

from __future__ import annotations

import numpy as np
import vtkmodules.qt
from PySide6.QtCore import QEvent

vtkmodules.qt.PyQtImpl = "PySide6"  # must precede the QVTKRenderWindowInteractor import

import vtkmodules.vtkInteractionStyle  # noqa: E402 - registers interactor styles
import vtkmodules.vtkRenderingFreeType  # noqa: E402 - text actors
import vtkmodules.vtkRenderingOpenGL2  # noqa: E402 - the OpenGL back end
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: E402 - volume mappers
from vtkmodules.qt.QVTKRenderWindowInteractor import (  # noqa: E402
    QVTKRenderWindowInteractor as _QVTKBase,
)
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy  # noqa: E402
from vtkmodules.vtkCommonDataModel import vtkImageData  # noqa: E402
from vtkmodules.vtkIOImage import vtkPNGWriter  # noqa: E402,F401 - re-exported for callers
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter  # noqa: E402

_INPUT_EVENTS = {
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.KeyPress,
    QEvent.Type.KeyRelease,
    QEvent.Type.Enter,
    QEvent.Type.Leave,
}

__all__ = [
    "QVTKRenderWindowInteractor",
    "capture_rgb",
    "gl_renderer_name",
    "image_data_from_array",
    "is_software_renderer",
]


class QVTKRenderWindowInteractor(_QVTKBase):
    """The VTK Qt widget, inert after :meth:`Finalize`: a paint or input event that arrives
    after the render window was released must not touch it (that segfaults)."""

    finalized = False

    def Finalize(self) -> None:  # noqa: N802 - VTK name
        """Release the GL context, then drop the render window and interactor: VTK closes its
        X display connection only when the render window is destroyed, and a connection left
        open makes the process exit with an X I/O error once the X server has gone (Xvfb)."""
        if self.finalized:
            return
        self.finalized = True
        self._Timer.stop()
        super().Finalize()
        self._RenderWindow = None
        self._Iren = None

    def paintEvent(self, ev) -> None:  # noqa: N802 - Qt name
        if not self.finalized:
            super().paintEvent(ev)

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt name
        if not self.finalized:
            super().resizeEvent(ev)

    def event(self, ev) -> bool:
        if self.finalized and ev.type() in _INPUT_EVENTS:
            return True
        return super().event(ev)


_SOFTWARE_HINTS = ("llvmpipe", "softpipe", "swrast", "software", "lavapipe")


def image_data_from_array(
    array: np.ndarray, spacing: tuple[float, float, float], origin: tuple[float, float, float]
) -> vtkImageData:
    """A vtkImageData over a C-ordered ``(z, y, x)`` array (shares memory: keep ``array``)."""
    arr = np.ascontiguousarray(array)
    nz, ny, nx = arr.shape
    image = vtkImageData()
    image.SetDimensions(nx, ny, nz)
    image.SetSpacing(*spacing)
    image.SetOrigin(*origin)
    scalars = numpy_to_vtk(arr.ravel(order="C"), deep=False)
    scalars.SetName("HU")
    image.GetPointData().SetScalars(scalars)
    image._numpy_ref = arr  # type: ignore[attr-defined] - keeps the buffer alive
    return image


def gl_renderer_name(window: vtkRenderWindow) -> str:
    """The OpenGL renderer string (e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)'), '' if unknown."""
    try:
        report = window.ReportCapabilities() or ""
    except Exception:  # noqa: BLE001 - some back ends cannot report
        return ""
    for line in report.splitlines():
        if "renderer string" in line.lower():
            return line.split(":", 1)[1].strip()
    return ""


def is_software_renderer(window: vtkRenderWindow) -> bool:
    """True on Mesa llvmpipe and friends (no GPU): use CPU ray casting there."""
    name = gl_renderer_name(window).lower()
    return not name or any(h in name for h in _SOFTWARE_HINTS)


def capture_rgb(window: vtkRenderWindow) -> np.ndarray:
    """Render and read back the window as an ``(h, w, 3)`` uint8 array, top row first."""
    window.Render()
    grab = vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()
    grab.ShouldRerenderOff()
    grab.Update()
    out = grab.GetOutput()
    w, h, _ = out.GetDimensions()
    arr = vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[:, :, :3]
    return np.ascontiguousarray(arr[::-1])


def release_view(view) -> None:
    """Close a VTK view for good: stop listening to state, finalise its render window.

    Every reference to the render window is dropped so that VTK frees it and its X display
    connection (a window left open when Xvfb stops makes Xlib abort the process).
    ``view`` has ``closed``, ``state``, ``_subscriptions``, ``widget``, ``style``,
    ``interactor`` and ``render_window``; a second call does nothing.
    """
    if view.closed:
        return
    view.closed = True
    for event, handler in view._subscriptions:
        view.state.events[event].disconnect(handler)
    view.widget.Finalize()
    view.style.RemoveAllObservers()
    view.interactor.RemoveAllObservers()
    view.interactor = view.style = view.render_window = None
