"""Qt glue between the main window and the assistant engine (:mod:`radvoice.assistant`).

* volume opened → :meth:`Assistant.volume_opened` (findings computed off the GUI thread);
* push-to-talk chunks (capture thread) → :meth:`Assistant.push_chunk`; every finished
  utterance → :meth:`Assistant.finish_utterance`;
* commands ``library.similar_to_volume``, ``library.dialog``, ``assistant.ask_text``,
  ``compare.close`` in a Library menu;
* priors double-click → the prior opens beside the current case (:class:`ComparisonDock`);
* first run without a library → a non-blocking offer to build the demo library (in the
  background, progress in the status bar, searchable while it grows) or choose a folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QMenu, QMessageBox

from radvoice.app.assistant.comparison import ComparisonDock
from radvoice.app.assistant.voice_bridge import VoiceBridge
from radvoice.assistant import Assistant, AssistantConfig, load_default_models
from radvoice.assistant import library_tasks as tasks
from radvoice.assistant.engine import Answer
from radvoice.commands import Command
from radvoice.components.orientation import OrientedVolume
from radvoice.components.state import PriorResult
from radvoice.errors import RadVoiceError
from radvoice.library.paths import ENV_VAR, resolve_library_dir

log = logging.getLogger(__name__)
DEFAULT: Any = object()  # "use the shipped models / the configured library"
LIBRARY_KEY = "library/path"
FIRST_RUN_KEY = "library/first_run_declined"


class PriorLoader(QThread):
    """Reads a library case's volume and prepares its orientation off the GUI thread."""

    loaded = Signal(object, object, object)  # PriorResult, Volume, OrientedVolume
    failed = Signal(str)

    def __init__(self, library, prior: PriorResult, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self.prior = prior

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            volume = self.library.load_volume(int(self.prior.extra["library_id"]))
            self.loaded.emit(self.prior, volume, OrientedVolume(volume))
        except RadVoiceError as err:
            self.failed.emit(f"{self.prior.case_id}: {str(err).splitlines()[0]}")
        except Exception as err:  # noqa: BLE001 - the GUI must stay up
            log.exception("opening a prior failed")
            self.failed.emit(f"{self.prior.case_id} could not be opened ({type(err).__name__})")


def configured_library_dir(settings) -> Path:
    """``$RADVOICE_LIBRARY`` > the folder chosen in the app > the per-user default."""
    if os.environ.get(ENV_VAR, "").strip():
        return resolve_library_dir()
    saved = settings.value(LIBRARY_KEY)
    return Path(str(saved)) if saved else resolve_library_dir()


class AssistantBridge(QObject):
    """One per window (``window.assistant_bridge``); see the module docstring."""

    answered = Signal(object)  # an engine Answer, on the GUI thread
    prior_opened = Signal(object)  # the PriorResult shown in the comparison dock
    _answer_in = Signal(object)

    def __init__(
        self,
        window,
        models=DEFAULT,
        library=DEFAULT,
        library_dir: Path | None = None,
        config: AssistantConfig | None = None,
        first_run: bool = True,
        heatmap_compute: Any = DEFAULT,
        transcribe: Any = DEFAULT,
        precompute_heatmaps: bool = True,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.closed = False
        self.library_dir = Path(library_dir) if library_dir else configured_library_dir(
            window.settings
        )  # fmt: skip
        if models is DEFAULT:
            models = load_default_models()
        problem = ""
        if library is not DEFAULT and library is not None:
            self.library_dir = Path(library.directory)
        if library is DEFAULT:
            library, problem = self._open_configured_library()
        self.engine = Assistant(
            window.findings, window.priors, window.talk, models, library, problem, config,
            on_answer=self._answer_in.emit,
        )  # fmt: skip
        self._answer_in.connect(self._on_answer)
        self.dialog = None
        self.comparison: ComparisonDock | None = None
        self._loaders: list[PriorLoader] = []
        self._prompt: QMessageBox | None = None
        self.build_label: QLabel | None = None  # status-bar progress of a background build

        window.viewer.events.volume.connect(self._on_volume)
        window.priors_panel.open_requested.disconnect(window.open_path)
        window.priors_panel.activated.connect(self.open_prior)
        self._register_commands()
        self.voice = VoiceBridge(self, heatmap_compute, transcribe, precompute_heatmaps)
        talk_bridge = getattr(window, "talk_bridge", None)
        if talk_bridge is not None:
            self.connect_talk_bridge(talk_bridge)
        window.shutdown_hooks.append(self.shutdown)
        if window.viewer.volume is not None:
            self.engine.volume_opened(window.viewer.volume)
        if first_run and self.engine.library is None and not tasks.library_exists(self.library_dir):
            QTimer.singleShot(0, self.offer_first_run)

    # -- setup --------------------------------------------------------------------------------
    def _open_configured_library(self):
        if not tasks.library_exists(self.library_dir):
            return None, f"none at {self.library_dir} (Library > Case Library…)"
        try:
            return tasks.open_library(self.library_dir), ""
        except RadVoiceError as err:
            return None, str(err).splitlines()[0]

    def _register_commands(self) -> None:
        reg = self.window.commands
        for cmd in (
            Command(
                "library.similar_to_volume", "Similar Prior Cases to This CT",
                self.similar_to_volume, "P", category="Library",
                tooltip="Find library cases that look like the open CT",
            ),
            Command("library.dialog", "Case Library…", self.show_library_dialog, "Ctrl+L",
                    category="Library"),
            Command("assistant.ask_text", "Type a Question or Finding…", self.ask_text_dialog,
                    "Ctrl+T", category="Talk"),
            Command("compare.close", "Close Prior Comparison", self.close_comparison,
                    category="Library", enabled=False),
        ):  # fmt: skip
            if cmd.name not in reg:
                reg.register(cmd)
        bar = self.window.menuBar()
        menu = QMenu("&Library", bar)
        menu.setObjectName("libraryMenu")
        help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
        if help_action is not None:
            bar.insertMenu(help_action, menu)
        else:
            bar.addMenu(menu)
        self.window.binder.fill_menu(
            menu, ["library.similar_to_volume", None, "compare.close", None, "library.dialog"]
        )
        talk_menu = next(
            (a.menu() for a in self.window.menuBar().actions() if a.text() == "&Talk"), None
        )
        if talk_menu is not None:
            self.window.binder.fill_menu(talk_menu, ["assistant.ask_text"])

    def connect_talk_bridge(self, talk_bridge) -> None:
        """Stream the recorder's chunks to the speech worker; finish at each utterance."""
        engine = self.engine
        talk_bridge.recorder.on_chunk(
            lambda c: engine.push_chunk(c.utterance_id, c.samples, c.start)
        )
        talk_bridge.utterance_finished.connect(self._on_utterance)

    # -- events -------------------------------------------------------------------------------
    def _on_volume(self, volume) -> None:
        if not self.closed:
            self.engine.volume_opened(volume)
            self.voice.volume_opened(volume)

    def _on_utterance(self, utterance) -> None:
        if not self.closed:
            self.voice.utterance_finished(utterance)
            self.engine.finish_utterance(
                utterance.utterance_id, utterance.audio, heard=bool(utterance.heard)
            )

    def _on_answer(self, answer: Answer) -> None:
        if self.closed:
            return
        i = answer.intent
        if i.kind.value != "command":  # a command's confirmation is the voice controller's
            what = f"asked about {i.label}" if i.kind.value == "query" else "finding → prior cases"
            self.window.statusBar().showMessage(
                f"Heard: {what} (match {i.score:.2f}, {answer.seconds * 1000:.0f} ms)", 8000
            )
        self.answered.emit(answer)
        self.voice.answered(answer)

    # -- commands -----------------------------------------------------------------------------
    def similar_to_volume(self) -> None:
        self.engine.similar_to_volume()

    def ask_text_dialog(self) -> None:
        text, ok = QInputDialog.getText(
            self.window,
            "Ask RadVoice",
            "Question (e.g. “is there a pleural effusion?”) or finding:",
        )
        if ok and text.strip():
            self.engine.ask_text(text)

    def library_dialog(self):
        """The library dialog (created once, not shown)."""
        from radvoice.app.library_dialog import LibraryDialog

        if self.dialog is None:
            self.dialog = LibraryDialog(
                self.library_dir, self.engine.library, self.engine.models, self.window
            )
            self.dialog.library_changed.connect(self._library_changed)
        return self.dialog

    def show_library_dialog(self):
        """Open (or raise) the non-modal library dialog."""
        dialog = self.library_dialog()
        dialog.refresh()
        dialog.show()
        dialog.raise_()
        return dialog

    def build_demo_in_background(self) -> bool:
        """Build the demo library while the user works: searchable from its first case,
        progress in the status bar (Library > Case Library… shows it too and can cancel)."""
        dialog = self.library_dialog()
        if not dialog.build_demo():
            return False
        label = self._build_label()
        label.setText("Case library: starting the demo build…")
        label.setVisible(True)
        dialog.task.progress.connect(self._on_build_progress)
        dialog.task.done.connect(lambda m: self._on_build_end(m))
        dialog.task.failed.connect(lambda m: self._on_build_end(f"Case library: {m}"))
        return True

    def _build_label(self) -> QLabel:
        if self.build_label is None:
            self.build_label = QLabel()
            self.build_label.setObjectName("libraryBuildLabel")
            self.window.statusBar().addPermanentWidget(self.build_label)
        return self.build_label

    def _on_build_progress(self, done: int, total: int, _what: str) -> None:
        if self.build_label is not None and not self.closed:
            self.build_label.setText(
                f"Case library: {done}/{total} cases — searchable while it grows"
            )

    def _on_build_end(self, message: str) -> None:
        if self.build_label is not None and not self.closed:
            self.build_label.setVisible(False)
            self.window.statusBar().showMessage(message, 15000)

    def _library_changed(self, library) -> None:
        self.library_dir = Path(library.directory)
        self.engine.set_library(library)
        if self.window.persist_settings:
            self.window.settings.setValue(LIBRARY_KEY, str(self.library_dir))

    # -- first run ----------------------------------------------------------------------------
    def offer_first_run(self) -> None:
        """No library yet: offer the demo library or a folder (non-modal, never blocks)."""
        if self.closed or self.window.settings.value(FIRST_RUN_KEY) in (True, "true"):
            return
        box = QMessageBox(self.window)
        box.setObjectName("firstRunBox")
        box.setWindowTitle("Case library")
        note = "" if self.engine.has_models else (
            "\n\nThe trained models are not installed yet, so cases cannot be embedded; "
            "you can choose an existing library folder."
        )  # fmt: skip
        box.setText(
            f"There is no case library at {self.library_dir}.\n\nBuild the demo library "
            f"(generated cases, with progress), or choose the folder of your library?{note}"
        )
        build = box.addButton("Build Demo Library", QMessageBox.ButtonRole.AcceptRole)
        build.setEnabled(self.engine.has_models)
        choose = box.addButton("Choose Folder…", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Not Now", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(
            lambda b: self._first_run_choice(
                "build" if b is build else "choose" if b is choose else "later"
            )
        )  # fmt: skip
        self._prompt = box
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()

    def _first_run_choice(self, choice: str) -> None:
        if self.closed:
            return
        if choice == "build":
            self.build_demo_in_background()
        elif choice == "choose":
            folder = QFileDialog.getExistingDirectory(
                self.window, "Case library folder", str(self.library_dir)
            )
            if folder:
                self.show_library_dialog().use_folder(Path(folder))
        elif self.window.persist_settings:
            self.window.settings.setValue(FIRST_RUN_KEY, True)

    # -- priors and comparison ----------------------------------------------------------------
    def open_prior(self, prior: PriorResult) -> None:
        """Open a library prior beside the current case (its volume is read off the GUI thread)."""
        library = self.engine.library
        if self.closed or library is None or "library_id" not in prior.extra:
            return
        loader = PriorLoader(library, prior, self)
        loader.loaded.connect(self._show_prior)
        loader.failed.connect(self.window.show_error)
        loader.finished.connect(lambda: self._loaders.remove(loader) if loader in self._loaders
                                else None)  # fmt: skip
        self._loaders.append(loader)
        self.window.statusBar().showMessage(f"Opening {prior.case_id} for comparison…")
        loader.start()

    def _show_prior(self, prior: PriorResult, volume, oriented) -> None:
        if self.closed:
            return
        if self.comparison is None:
            self.comparison = ComparisonDock(self.window)
        self.comparison.show_prior(prior, volume, oriented)
        self.window.commands.set_enabled("compare.close", True)
        self.window.statusBar().showMessage(f"Comparing with {prior.case_id}", 5000)
        self.prior_opened.emit(prior)

    def close_comparison(self) -> None:
        if self.comparison is not None:
            self.comparison.close_comparison()
        self.window.commands.set_enabled("compare.close", False)

    # -- teardown -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the workers, loaders, dialog task and the comparison view (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.window.viewer.events.volume.disconnect(self._on_volume)
        if self._prompt is not None:
            self._prompt.close()
        if self.dialog is not None:
            self.dialog.shutdown()
        for loader in list(self._loaders):
            loader.wait()
        self._loaders.clear()
        if self.comparison is not None:
            self.comparison.shutdown()
        self.voice.shutdown()
        self.engine.shutdown()


def attach_assistant(window, **kwargs: Any) -> AssistantBridge:
    """Create the bridge for a ``MainWindow``; kept as ``window.assistant_bridge``."""
    bridge = AssistantBridge(window, **kwargs)
    window.assistant_bridge = bridge
    return bridge
