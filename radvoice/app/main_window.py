"""The RadVoice main window: 2x2 views, side panels, menus/toolbar from the command registry."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolBar,
    QWidget,
)

from radvoice import __version__
from radvoice.app.actions import ActionBinder, HoldKeyFilter
from radvoice.app.app_commands import (
    MENUS,
    RECENT_COMMANDS,
    RENDER_PRESET_COMMANDS,
    TOOLBAR,
    WINDOW_PRESET_COMMANDS,
    register_app_commands,
)
from radvoice.app.capture import grab_composite
from radvoice.app.loader import LoadThread
from radvoice.app.panels.findings import FindingsPanel
from radvoice.app.panels.priors import PriorsPanel
from radvoice.app.panels.talk import TalkPanel
from radvoice.app.series_dialog import SeriesDialog
from radvoice.app.settings import make_settings, push_recent, read_bool, read_list
from radvoice.app.shortcuts_dialog import ShortcutsDialog
from radvoice.app.slice_view import SliceView
from radvoice.app.volume_view import DEFAULT_MAX_DIM, VolumeView
from radvoice.app.vtk_support import image_data_from_array
from radvoice.commands import CommandRegistry
from radvoice.components.orientation import SLICE_VIEWS, OrientedVolume
from radvoice.components.state import (
    RENDER_PRESETS,
    WINDOW_PRESETS,
    FindingsState,
    PriorsState,
    TalkState,
    ViewerState,
)
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume

log = logging.getLogger(__name__)
GRID_POSITIONS = {"volume": (0, 0), "axial": (0, 1), "coronal": (1, 0), "sagittal": (1, 1)}
VOLUME_FILTER = "CT volumes (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)"


def local_paths(mime: QMimeData) -> list[str]:
    """Local file/folder paths of dropped URLs."""
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class MainWindow(QMainWindow):
    """The viewer. States: ``viewer``, ``findings``, ``priors``, ``talk``; ``commands``."""

    def __init__(
        self,
        volume_max_dim: int = DEFAULT_MAX_DIM,
        force_cpu_volume: bool | None = None,
        persist_settings: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("RadVoice")
        self.setAcceptDrops(True)
        self.settings = make_settings()
        self.persist_settings = persist_settings
        self.viewer = ViewerState()
        self.findings = FindingsState()
        self.priors = PriorsState()
        self.talk = TalkState()
        self.commands = CommandRegistry()
        self.closed = False
        self.last_error: str | None = None
        self.oriented: OrientedVolume | None = None
        self._load_thread: LoadThread | None = None
        self._old_threads: list[LoadThread] = []
        self._dirty: set = set()
        self._error_box: QMessageBox | None = None
        self.shutdown_hooks: list[Callable[[], object]] = []  # run by shutdown(), views still open

        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self.render_now)

        self._build_views(volume_max_dim, force_cpu_volume)
        self._build_panels()
        self._build_status_bar()
        register_app_commands(self)
        self.binder = ActionBinder(self.commands, self, self.show_error)
        self.binder.exclusive("window", WINDOW_PRESET_COMMANDS)
        self.binder.exclusive("render", RENDER_PRESET_COMMANDS)
        self._build_menus()
        self.hold_keys = HoldKeyFilter(self.commands, self, self.show_error)
        QApplication.instance().installEventFilter(self.hold_keys)

        v = self.viewer.events
        v.volume.connect(self._on_volume)
        v.cursor.connect(lambda _c: self._update_status())
        v.maximized.connect(self._on_maximized)
        v.preset.connect(self._on_preset)
        v.render_preset.connect(self._on_render_preset)
        v.crosshair_visible.connect(lambda on: self.commands.set_checked("view.crosshair", on))
        v.show_patient_info.connect(self._on_patient_info)
        self._restore_settings()
        self._on_preset(self.viewer.preset)
        self._on_render_preset(self.viewer.render_preset)
        self._refresh_recent()
        self._update_status()

    # -- construction ---------------------------------------------------------------------------
    def _build_views(self, max_dim: int, force_cpu: bool | None) -> None:
        grid_host = QWidget()
        grid_host.setObjectName("viewGrid")
        self.grid = QGridLayout(grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.volume_view = VolumeView(
            self.viewer, grid_host, self.schedule_render, max_dim, force_cpu
        )
        self.slice_views = {
            name: SliceView(name, self.viewer, grid_host, self.schedule_render, self._on_hover)
            for name in SLICE_VIEWS
        }
        self.views = {"volume": self.volume_view, **self.slice_views}
        for name, view in self.views.items():
            row, col = GRID_POSITIONS[name]
            self.grid.addWidget(view.widget, row, col)
        self.grid.setRowStretch(0, 1)
        self.grid.setRowStretch(1, 1)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 1)
        self.setCentralWidget(grid_host)

    def _build_panels(self) -> None:
        self.findings_panel = FindingsPanel(self.findings)
        self.priors_panel = PriorsPanel(self.priors)
        self.priors_panel.open_requested.connect(self.open_path)
        self.talk_panel = TalkPanel(self.talk, self.commands)
        self.docks: dict[str, QDockWidget] = {}
        for key, title, widget in (
            ("talk", "Push to talk", self.talk_panel),
            ("findings", "Findings", self.findings_panel),
            ("priors", "Similar prior cases", self.priors_panel),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{key}")
            dock.setWidget(widget)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                | QDockWidget.DockWidgetFeature.DockWidgetClosable
            )
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[key] = dock
        self.resizeDocks([self.docks["talk"]], [360], Qt.Orientation.Horizontal)
        # the findings chart has 18 rows: give it most of the column (a saved layout wins)
        docks = [self.docks[k] for k in ("talk", "findings", "priors")]
        self.resizeDocks(docks, [170, 560, 300], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.position_label = QLabel()
        self.position_label.setObjectName("positionLabel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        bar.addPermanentWidget(self.position_label, 1)
        bar.addPermanentWidget(self.progress)

    def _build_menus(self) -> None:
        menubar = self.menuBar()
        for title, names in MENUS.items():
            menu = menubar.addMenu(title)
            for name in names:
                if name == "@recent":
                    self.recent_menu = menu.addMenu("Open &Recent")
                    self.binder.fill_menu(
                        self.recent_menu, [*RECENT_COMMANDS, None, "file.recent.clear"]
                    )
                else:
                    self.binder.fill_menu(menu, [name])
            if title == "&View":
                menu.addSeparator()
                for dock in self.docks.values():
                    menu.addAction(dock.toggleViewAction())
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        self.binder.fill_toolbar(toolbar, TOOLBAR)
        self.addToolBar(toolbar)

    # -- settings -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        else:
            self.resize(1500, 920)
        state = s.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))
        overrides = {}
        s.beginGroup("shortcuts")
        for key in s.childKeys():
            overrides[key.replace("/", ".")] = str(s.value(key) or "")
        s.endGroup()
        for problem in self.commands.apply_shortcut_overrides(overrides):
            log.warning("saved shortcut ignored: %s", problem)
        preset = str(s.value("viewer/preset", "mediastinum"))
        if preset in WINDOW_PRESETS or preset == "header":
            self.viewer.apply_preset(preset)
        render = str(s.value("viewer/render_preset", "ct-bone"))
        if render in RENDER_PRESETS:
            self.viewer.render_preset = render
        self.viewer.show_patient_info = read_bool(s, "viewer/show_patient_info", False)

    def _save_settings(self) -> None:
        if not self.persist_settings:
            return
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.remove("shortcuts")
        for name, key in self.commands.shortcut_overrides().items():
            s.setValue(f"shortcuts/{name}", key)
        if self.viewer.preset:
            s.setValue("viewer/preset", self.viewer.preset)
        s.setValue("viewer/render_preset", self.viewer.render_preset)
        s.setValue("viewer/show_patient_info", self.viewer.show_patient_info)
        s.sync()

    def save_shortcuts(self) -> None:
        s = self.settings
        s.remove("shortcuts")
        for name, key in self.commands.shortcut_overrides().items():
            s.setValue(f"shortcuts/{name}", key)
        s.sync()

    # -- recent files ---------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        return read_list(self.settings, "recent_files")

    def _add_recent(self, path: str) -> None:
        self.settings.setValue("recent_files", push_recent(self.recent_files, path))
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        recent = self.recent_files
        for i, name in enumerate(RECENT_COMMANDS):
            cmd = self.commands.get(name)
            if i < len(recent):
                cmd.title = f"&{i + 1} {Path(recent[i]).name}"
                cmd.tooltip = recent[i]
                self.commands.set_enabled(name, True)
            else:
                cmd.title = f"Recent {i + 1}"
                self.commands.set_enabled(name, False)
            self.binder._sync(cmd)
            self.binder.actions[name].setVisible(i < len(recent))
        self.commands.set_enabled("file.recent.clear", bool(recent))

    def open_recent(self, index: int) -> None:
        recent = self.recent_files
        if index < len(recent):
            self.open_path(recent[index])

    def clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._refresh_recent()

    # -- loading --------------------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open CT volume", "", VOLUME_FILTER)
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open DICOM folder")
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, series_uid: str | None = None) -> None:
        """Load a file or DICOM folder in the background (a running load is cancelled)."""
        if self.closed:
            return
        self._cancel_load()
        thread = LoadThread(str(path), series_uid, self)
        thread.progress.connect(self._on_progress)
        thread.loaded.connect(self._on_loaded)
        thread.failed.connect(self._on_failed)
        thread.choose_series.connect(self._on_choose_series)
        thread.finished.connect(self._on_thread_finished)
        self._load_thread = thread
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.statusBar().showMessage(f"Opening {Path(str(path)).name}…")
        thread.start()

    @property
    def loading(self) -> bool:
        return self._load_thread is not None and self._load_thread.isRunning()

    def _cancel_load(self) -> None:
        thread = self._load_thread
        if thread is not None and thread.isRunning():
            thread.cancel()
            for sig in (thread.loaded, thread.failed, thread.choose_series):
                sig.disconnect()
            self._old_threads.append(thread)
        self._load_thread = None

    def _on_thread_finished(self) -> None:
        self._old_threads = [t for t in self._old_threads if t.isRunning()]
        thread = self.sender()
        if thread is not None and thread is self._load_thread:
            self._load_thread = None
            self.progress.setVisible(False)
        if isinstance(thread, LoadThread) and not thread.isRunning():
            thread.deleteLater()  # one QThread per load would otherwise stay a child forever

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        self.statusBar().showMessage(message)

    def _on_loaded(self, volume: Volume, oriented: OrientedVolume) -> None:
        if self.closed:
            return
        self.progress.setVisible(False)
        self.oriented = oriented
        self.viewer.set_volume(volume)
        if volume.source:
            self._add_recent(volume.source)
        elif self.sender() is not None:
            self._add_recent(self.sender().path)
        extra = f" — {volume.warnings[0]}" if volume.warnings else ""
        if oriented.oblique_deg > 1.0:
            extra += f" — oblique by {oriented.oblique_deg:.1f}°, shown on the nearest axes"
        self.statusBar().showMessage(f"Opened {volume.describe()}{extra}", 8000)

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.show_error(message)

    def _on_choose_series(self, path: str, series: list) -> None:
        self.progress.setVisible(False)
        dialog = SeriesDialog(series, self)
        if dialog.exec() and dialog.selected() is not None:
            self.open_path(path, dialog.selected().uid)
        else:
            self.statusBar().showMessage("Opening cancelled", 4000)

    def show_error(self, message: str) -> None:
        """A one-line error in the status bar and a non-blocking message box."""
        self.last_error = message
        log.warning("user-facing error: %s", message)
        self.statusBar().showMessage(message, 15000)
        if self.closed:
            return
        if self._error_box is None:
            self._error_box = QMessageBox(QMessageBox.Icon.Warning, "RadVoice", "", parent=self)
            self._error_box.setObjectName("errorBox")
        self._error_box.setText(message)
        self._error_box.open()

    # -- volume and state -----------------------------------------------------------------------
    def _on_volume(self, volume: Volume | None) -> None:
        if volume is None:
            self.oriented = None
        elif self.oriented is None or self.oriented.volume is not volume:
            self.oriented = OrientedVolume(volume)
        ov = self.oriented
        image = None if ov is None else image_data_from_array(ov.array, ov.spacing, ov.origin)
        for view in self.slice_views.values():
            view.set_volume(ov, image)
        self.volume_view.set_volume(ov)
        title = "RadVoice"
        if volume is not None:
            desc = volume.meta.get("SeriesDescription") or Path(volume.source or "").name
            title = f"{desc} — RadVoice" if desc else title
        self.setWindowTitle(title)
        self._update_status()

    def set_volume(self, volume: Volume) -> None:
        """Show an in-memory volume (tests, the screenshot CLI, other parts)."""
        self.oriented = OrientedVolume(volume)
        self.viewer.set_volume(volume)

    def _on_hover(self, view: str, ijk: tuple[int, int, int] | None) -> None:
        self._update_status(ijk)

    def _update_status(self, ijk: tuple[int, int, int] | None = None) -> None:
        volume = self.viewer.volume
        if volume is None:
            self.position_label.setText("No volume — File > Open, or drop a file or folder here")
            return
        where = "mouse" if ijk is not None else "crosshair"
        i, j, k = ijk if ijk is not None else self.viewer.cursor
        hu = volume.hu_at(i, j, k)
        x, y, z = volume.index_to_lps((i, j, k))
        hu_text = "—" if hu is None else f"{hu} HU"
        self.position_label.setText(
            f"{where}: {hu_text}   voxel ({i}, {j}, {k})   LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm"
        )

    def _on_maximized(self, view: str | None) -> None:
        for name, v in self.views.items():
            v.widget.setVisible(view is None or name == view)
        self.commands.set_checked("view.maximize", view is not None)
        self.schedule_render()

    def _on_preset(self, preset: str | None) -> None:
        for name in WINDOW_PRESET_COMMANDS:
            self.commands.set_checked(name, name == f"view.preset.{preset}")

    def _on_render_preset(self, preset: str) -> None:
        for name in RENDER_PRESET_COMMANDS:
            self.commands.set_checked(name, name == f"render.preset.{preset}")

    def _on_patient_info(self, show: bool) -> None:
        self.commands.set_checked("view.patient_info", show)

    def step_slice(self, steps: int) -> None:
        active = self.viewer.active_view
        view = self.slice_views.get(active, self.slice_views["axial"])
        view.scroll(steps)

    def toggle_maximized(self) -> None:
        """Restore the 2x2 layout, or maximise the active view."""
        v = self.viewer
        v.maximized = None if v.maximized is not None else v.active_view

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_camera()

    def talk_unavailable(self) -> None:
        """``talk.push`` until an audio engine connects its own callbacks."""
        self.talk.fail("Push-to-talk is unavailable: no audio engine is connected")

    # -- dialogs --------------------------------------------------------------------------------
    def edit_shortcuts(self) -> None:
        dialog = ShortcutsDialog(self.commands, self)
        if dialog.exec():
            self.save_shortcuts()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About RadVoice",
            f"RadVoice {__version__}\nTalk to a chest CT — offline, research use only.",
        )

    def choose_screenshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save screenshot", "radvoice.png", "PNG (*.png)"
        )
        if path:
            self.save_screenshot(path)

    # -- rendering ------------------------------------------------------------------------------
    def schedule_render(self, view=None) -> None:
        """Coalesce renders: views ask, the GUI thread renders once per event-loop turn."""
        if self.closed:
            return
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("render requested off the GUI thread")
        self._dirty.update([view] if view is not None else self.views.values())
        if not self._render_timer.isActive():
            self._render_timer.start()

    def render_now(self) -> None:
        """Render every view that asked for it (tests call this instead of waiting)."""
        self._render_timer.stop()
        dirty, self._dirty = self._dirty, set()
        if self.closed:
            return
        for view in dirty:
            view.render()

    def grab_image(self) -> QImage:
        """The whole window with the VTK panes composited in."""
        self.render_now()
        return grab_composite(self, list(self.views.values()))

    def save_screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        if not self.grab_image().save(str(path), "PNG"):
            raise RadVoiceError(f"{path}: the screenshot could not be written")
        self.statusBar().showMessage(f"Saved {path.name}", 5000)
        return path

    # -- drag & drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt name
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt name
        if self.drop_mime(event.mimeData()):
            event.acceptProposedAction()

    def drop_mime(self, mime: QMimeData) -> bool:
        """Open the first local file or folder of a drop; False when there is none."""
        paths = local_paths(mime)
        if paths:
            self.open_path(paths[0])
        return bool(paths)

    # -- shutdown -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        if not self.closed:
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save settings, stop workers and timers, release the render windows. Idempotent."""
        if self.closed:
            return
        self._save_settings()
        self.closed = True
        self._render_timer.stop()
        self._dirty.clear()
        QApplication.instance().removeEventFilter(self.hold_keys)
        for held in [c.name for c in self.commands if self.commands.is_held(c.name)]:
            self.commands.release(held)
        self._cancel_load()
        for thread in self._old_threads:
            thread.cancel()
            thread.wait()
        self._old_threads.clear()
        if self._error_box is not None:
            self._error_box.close()
        for hook in self.shutdown_hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001 - one part failing must not keep the others open
                log.exception("shutdown hook failed")
        self.binder.detach()
        for panel in (self.findings_panel, self.priors_panel, self.talk_panel):
            panel.detach()
        for view in self.views.values():
            view.close()
