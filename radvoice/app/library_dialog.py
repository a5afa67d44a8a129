"""The case-library dialog: where the library is, how many cases, which model; re-index, import,
build the demo library, or choose another folder. Long tasks run in a worker thread with
progress and can be cancelled (committed cases are kept: imports are resumable)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from radvoice.assistant import library_tasks as tasks
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)
DEMO_CASES = 500


class LibraryTask(QThread):
    """Runs ``fn(progress)`` off the GUI thread; ``done(message)`` or ``failed(message)``."""

    progress = Signal(int, int, str)
    done = Signal(str)
    failed = Signal(str)

    def __init__(self, fn: Callable[[tasks.Progress], str], parent=None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def _report(self, done: int, total: int, what: str) -> None:
        if self._cancelled:
            raise tasks.TaskCancelled("cancelled — the cases added so far are kept")
        self.progress.emit(int(done), int(total), str(what))

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            self.done.emit(self._fn(self._report))
        except RadVoiceError as err:
            self.failed.emit(str(err).splitlines()[0])
        except Exception as err:  # noqa: BLE001 - the GUI must stay up
            log.exception("library task failed")
            self.failed.emit(f"the library task failed ({type(err).__name__})")


class LibraryDialog(QDialog):
    """Non-modal; ``library_changed(CaseLibrary)`` when another folder or a new library opens."""

    library_changed = Signal(object)

    def __init__(self, directory: Path, library, models, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Case Library")
        self.setObjectName("libraryDialog")
        self.directory = Path(directory)
        self.library = library
        self.models = models  # None: no model loaded (imports need one)
        self.task: LibraryTask | None = None
        self.last_message = ""

        form = QFormLayout()
        self.path_label = QLabel()
        self.cases_label = QLabel()
        self.model_label = QLabel()
        self.index_label = QLabel()
        self.index_label.setWordWrap(True)
        for title, label in (
            ("Folder", self.path_label),
            ("Cases", self.cases_label),
            ("Model", self.model_label),
            ("Indexes", self.index_label),
        ):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(title, label)

        self.choose_button = QPushButton("Choose Folder…")
        self.import_files_button = QPushButton("Import Files…")
        self.import_folder_button = QPushButton("Import Folder…")
        self.demo_button = QPushButton("Build Demo Library")
        self.demo_cases = QSpinBox()
        self.demo_cases.setRange(1, 100000)
        self.demo_cases.setValue(DEMO_CASES)
        self.demo_cases.setSuffix(" generated cases")
        self.reindex_button = QPushButton("Re-index")
        self.cancel_button = QPushButton("Cancel Task")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.choose_button.clicked.connect(self.choose_folder)
        self.import_files_button.clicked.connect(self.choose_import_files)
        self.import_folder_button.clicked.connect(self.choose_import_folder)
        self.demo_button.clicked.connect(lambda: self.build_demo())
        self.reindex_button.clicked.connect(self.reindex)
        self.cancel_button.clicked.connect(self.cancel_task)
        self.close_button.clicked.connect(self.close)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("libraryMessage")
        self.message.setWordWrap(True)

        rows = QVBoxLayout(self)
        rows.addLayout(form)
        for group in (
            (self.choose_button, self.import_files_button, self.import_folder_button),
            (self.demo_button, self.demo_cases),
            (self.reindex_button, self.cancel_button, self.close_button),
        ):
            line = QHBoxLayout()
            for widget in group:
                line.addWidget(widget)
            rows.addLayout(line)
        rows.addWidget(self.progress)
        rows.addWidget(self.message)
        self.resize(560, 260)
        self.refresh()

    # -- display ------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.isRunning()

    def refresh(self) -> None:
        """Re-read path, case count, model and index state."""
        self.path_label.setText(str(self.directory))
        if self.library is None:
            self.cases_label.setText("no library here yet")
            self.model_label.setText("—")
            self.index_label.setText("—")
        else:
            try:
                s = tasks.summarise(self.library)
                self.cases_label.setText(str(s.cases))
                self.model_label.setText(s.model)
                self.index_label.setText(s.indexes)
            except RadVoiceError as err:
                self.cases_label.setText(f"unreadable: {str(err).splitlines()[0]}")
        busy = self.busy
        has_models = self.models is not None
        for button in (self.import_files_button, self.import_folder_button, self.demo_button):
            button.setEnabled(has_models and not busy)
            button.setToolTip("" if has_models else "No model loaded: cases cannot be embedded")
        self.reindex_button.setEnabled(self.library is not None and not busy)
        self.choose_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message.setText(text)

    # -- folder -------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Case library folder", str(self.directory))
        if folder:
            self.use_folder(Path(folder))

    def use_folder(self, folder: Path) -> None:
        """Open (or create) the library in ``folder`` and tell the app."""
        try:
            library = tasks.open_library(folder, create=True)
        except RadVoiceError as err:
            self._say(str(err).splitlines()[0])
            return
        self.directory, self.library = Path(folder), library
        self.library_changed.emit(library)
        self._say(f"Using the library in {folder}")
        self.refresh()

    def _ensure_library(self) -> bool:
        if self.library is not None:
            return True
        try:
            self.library = tasks.open_library(self.directory, create=True)
        except RadVoiceError as err:
            self._say(str(err).splitlines()[0])
            return False
        self.library_changed.emit(self.library)
        return True

    # -- tasks --------------------------------------------------------------------------------
    def _start(self, what: str, fn: Callable[[tasks.Progress], str]) -> bool:
        if self.busy:
            self._say("A library task is already running")
            return False
        task = LibraryTask(fn, self)
        task.progress.connect(self._on_progress)
        task.done.connect(self._on_done)
        task.failed.connect(self._on_failed)
        task.finished.connect(self.refresh)
        self.task = task
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._say(what)
        task.start()
        self.refresh()
        return True

    def choose_import_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import CT volumes", "", "CT volumes (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd)"
        )
        if files:
            self.import_paths(files)

    def choose_import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a DICOM or CT-RATE folder")
        if folder:
            self.import_paths([folder])

    def import_paths(self, paths: list[str]) -> bool:
        if self.models is None or not self._ensure_library():
            self._say("No model loaded: cases cannot be embedded")
            return False
        lib, models = self.library, self.models
        return self._start(
            f"Importing {len(paths)} item(s)…",
            lambda progress: tasks.import_paths(lib, models, paths, progress),
        )

    def build_demo(self, n_cases: int | None = None) -> bool:
        """Build (or complete: it resumes) the demo library; ``n_cases`` defaults to the box."""
        n_cases = self.demo_cases.value() if n_cases is None else int(n_cases)
        if self.models is None or not self._ensure_library():
            self._say("No model loaded: the demo library cannot be embedded")
            return False
        lib, models = self.library, self.models
        return self._start(
            f"Building the demo library ({n_cases} generated cases)…",
            lambda progress: tasks.build_demo_library(lib, models, n_cases, progress),
        )

    def reindex(self) -> bool:
        if self.library is None:
            return False
        lib = self.library
        return self._start("Re-indexing…", lambda _progress: tasks.reindex(lib))

    def cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self._say("Cancelling after the current case…")

    def _on_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._say(f"{done}/{total} {Path(what).name if what else ''}".rstrip())

    def _on_done(self, message: str) -> None:
        self.progress.setVisible(False)
        self._say(message)

    def _on_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self._say(message)

    # -- teardown -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Cancel and join a running task (the window is closing)."""
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
        self.close()
