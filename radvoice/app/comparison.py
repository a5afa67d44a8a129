"""The comparison window: a prior CT beside the open study (axial and coronal, own window/level,
the current study's preset copied in)."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from radvoice.app.loader import LoadThread
from radvoice.app.slice_view import SliceView
from radvoice.app.state import ViewerState
from radvoice.app.vtk_support import image_data_from_array

COMPARE_VIEWS = ("axial", "coronal")


class ComparisonWindow(QDialog):
    """Non-modal; ``open_prior(path, title)`` loads in the background and shows it."""

    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparisonWindow")
        self.setWindowTitle("Prior — comparison")
        self.resize(900, 480)
        self.state = ViewerState()
        self.volume = None
        self.closed = False
        self._thread: LoadThread | None = None
        layout = QVBoxLayout(self)
        self.caption = QLabel("")
        self.caption.setObjectName("comparisonCaption")
        layout.addWidget(self.caption)
        row = QHBoxLayout()
        self.views = {
            name: SliceView(name, self.state, self, self._schedule) for name in COMPARE_VIEWS
        }
        for view in self.views.values():
            row.addWidget(view.widget, 1)
        layout.addLayout(row, 1)

    def _schedule(self, view) -> None:
        if not self.closed:
            QTimer.singleShot(0, view.render)

    def open_prior(self, path: str, title: str = "", preset: str | None = None) -> None:
        self.caption.setText(f"Prior: {title} — loading…")
        self.setWindowTitle(f"Prior {title} — comparison")
        thread = LoadThread(path, None, self)
        thread.loaded.connect(lambda vol, ov: self._on_loaded(vol, ov, title, preset))
        thread.failed.connect(self._on_failed)
        self._thread = thread
        thread.start()
        self.show()
        self.raise_()

    def _on_loaded(self, volume, oriented, title: str, preset: str | None) -> None:
        if self.closed:
            return
        self.volume = volume
        self.state.set_volume(volume)
        if preset:
            self.state.apply_preset(preset)
        image = image_data_from_array(oriented.array, oriented.spacing, oriented.origin)
        for view in self.views.values():
            view.set_volume(oriented, image)
            view.render()
        self.caption.setText(f"Prior: {title} — {volume.describe()}")

    def _on_failed(self, message: str) -> None:
        self.caption.setText(f"⚠ {message}")
        self.failed.emit(message)

    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._thread is not None and self._thread.isRunning():
            self._thread.cancel()
            self._thread.wait(30000)
        for view in self.views.values():
            view.close()
