"""Comparison mode: a prior's axial view beside the current case, slices linked by relative z.

The prior gets its own :class:`ViewerState` and :class:`SliceView` in a dock. Scrolling either
case moves the other to the same relative position along the patient axis (slice index over
slice count, canonical S axis), and the prior follows the current window/level.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from radvoice.app.slice_view import SliceView
from radvoice.app.vtk_support import image_data_from_array
from radvoice.components.orientation import VIEW_GEOMETRY, OrientedVolume
from radvoice.components.state import PriorResult, ViewerState
from radvoice.imaging.volume import Volume

AXIAL = "axial"
AXIAL_NORMAL = VIEW_GEOMETRY[AXIAL].normal


def relative_slice(oriented: OrientedVolume, ijk: tuple[int, int, int]) -> float:
    """The axial position of voxel ``ijk`` as a fraction in [0, 1] (0 = first axial slice)."""
    n = oriented.size[AXIAL_NORMAL]
    z = oriented.to_canonical(ijk)[AXIAL_NORMAL]
    return 0.0 if n <= 1 else float(z) / (n - 1)


def cursor_at_fraction(
    oriented: OrientedVolume, ijk: tuple[int, int, int], fraction: float
) -> tuple[int, int, int]:
    """``ijk`` moved to the axial slice at ``fraction`` of the stack (in-plane kept)."""
    n = oriented.size[AXIAL_NORMAL]
    xyz = list(oriented.to_canonical(ijk))
    xyz[AXIAL_NORMAL] = int(round(min(max(fraction, 0.0), 1.0) * (n - 1)))
    return tuple(int(v) for v in oriented.to_original(tuple(xyz)))  # type: ignore[return-value]


class ComparisonDock(QDockWidget):
    """Shows one prior (axial) linked to ``window``'s current case. ``close_comparison`` ends it."""

    def __init__(self, window) -> None:  # window: MainWindow
        super().__init__("Prior comparison", window)
        self.setObjectName("dock-comparison")
        self.window_ = window
        self.state = ViewerState()
        self.state.window = window.viewer.window
        self.prior: PriorResult | None = None
        self.oriented: OrientedVolume | None = None
        self._image = None
        self._syncing = False

        host = QWidget()
        layout = QVBoxLayout(host)
        layout.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.title = QLabel("No prior open")
        self.title.setObjectName("comparisonTitle")
        self.title.setWordWrap(True)
        top.addWidget(self.title, 1)
        self.close_button = QPushButton("Close")
        self.close_button.setToolTip("End the comparison")
        self.close_button.clicked.connect(self.close_comparison)
        top.addWidget(self.close_button)
        layout.addLayout(top)
        self.view = SliceView(AXIAL, self.state, host, window.schedule_render, None)
        layout.addWidget(self.view.widget, 1)
        self.setWidget(host)
        self.setMinimumWidth(320)

        self.state.events.cursor.connect(self._prior_moved)
        window.viewer.events.cursor.connect(self._current_moved)
        window.viewer.events.window.connect(self._current_window)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self)

    # -- content ------------------------------------------------------------------------------
    def show_prior(self, prior: PriorResult, volume: Volume, oriented: OrientedVolume) -> None:
        """Show ``volume`` (a library case) at the current case's relative slice."""
        self.prior = prior
        self.oriented = oriented
        self._image = image_data_from_array(oriented.array, oriented.spacing, oriented.origin)
        self.state.set_volume(volume)
        self.view.set_volume(oriented, self._image)
        labels = ", ".join(prior.labels) if prior.labels else "no labelled findings"
        if not prior.extra.get("labels_known", True):
            labels = "labels unknown"
        self.title.setText(f"<b>{prior.case_id}</b> — similarity {prior.score:.2f}<br>{labels}")
        self.setWindowTitle(f"Prior comparison — {prior.case_id}")
        self._current_moved(self.window_.viewer.cursor)
        self.show()
        self.raise_()

    @property
    def active(self) -> bool:
        return self.oriented is not None

    # -- linking ------------------------------------------------------------------------------
    def _current_moved(self, ijk: tuple[int, int, int]) -> None:
        cur = self.window_.oriented
        if self._syncing or self.oriented is None or cur is None or self.view.closed:
            return
        self._syncing = True
        try:
            frac = relative_slice(cur, ijk)
            self.state.cursor = cursor_at_fraction(self.oriented, self.state.cursor, frac)
        finally:
            self._syncing = False

    def _prior_moved(self, ijk: tuple[int, int, int]) -> None:
        cur = self.window_.oriented
        if self._syncing or self.oriented is None or cur is None:
            return
        self._syncing = True
        try:
            frac = relative_slice(self.oriented, ijk)
            viewer = self.window_.viewer
            viewer.cursor = cursor_at_fraction(cur, viewer.cursor, frac)
        finally:
            self._syncing = False

    def _current_window(self, wl: tuple[float, float]) -> None:
        if not self.view.closed:
            self.state.window = wl

    # -- teardown -----------------------------------------------------------------------------
    def close_comparison(self) -> None:
        """Hide the dock and drop the prior (the view stays for the next comparison)."""
        self.prior = None
        self.oriented = None
        if not self.view.closed:
            self.state.set_volume(None)
            self.view.set_volume(None, None)
        self._image = None
        self.title.setText("No prior open")
        self.hide()

    def shutdown(self) -> None:
        """Disconnect from the window and release the render window (idempotent)."""
        self.window_.viewer.events.cursor.disconnect(self._current_moved)
        self.window_.viewer.events.window.disconnect(self._current_window)
        self.state.events.cursor.disconnect(self._prior_moved)
        self.view.close()
