"""The viewer's PACS and export commands: ``pacs.browse``, ``pacs.send_results``,
``file.export_findings``. Work runs off the GUI thread; failures are one-line messages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from radvoice.app.pacs_worker import PacsTask
from radvoice.errors import RadVoiceError

if TYPE_CHECKING:
    from radvoice.app.main_window import MainWindow


class PacsActions:
    """Holds the study browser, the comparison window and the last export of one window."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.browser = None
        self.comparison = None
        self.last_export = None  # ExportedFiles
        self.task: PacsTask | None = None
        win.shutdown_hooks.append(self.shutdown)

    # -- study browser ------------------------------------------------------------------------
    def browse(self):
        """Open (or raise) the non-modal study browser."""
        from radvoice.app.pacs_dialog import StudyBrowserDialog

        if self.browser is None:
            self.browser = StudyBrowserDialog(
                show_names=self.win.viewer.show_patient_info, parent=self.win
            )
            self.browser.open_requested.connect(lambda p, uid: self.win.open_path(p, uid or None))
            self.browser.compare_requested.connect(self.compare)
        self.browser.show()
        self.browser.raise_()
        return self.browser

    def compare(self, path: str, title: str = ""):
        from radvoice.app.comparison import ComparisonWindow

        if self.comparison is None:
            self.comparison = ComparisonWindow(self.win)
            self.comparison.failed.connect(self.win.show_error)
        self.comparison.open_prior(path, title, self.win.viewer.preset)
        return self.comparison

    # -- export -------------------------------------------------------------------------------
    def choose_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.win, "Export findings to folder")
        if folder:
            self.export_to(folder)

    def _report(self):
        from radvoice.export import FindingsReport
        from radvoice.export.findings import model_version

        f = self.win.findings
        if f.probabilities is None:
            raise RadVoiceError("no findings to export yet: open a CT and let it be analysed")
        query = {"label": f.queried_label} if f.queried_label else None
        volume = self.win.viewer.volume
        return FindingsReport(
            dict(f.probabilities), dict(f.thresholds), model_version(), query=query,
            volume=volume.describe() if volume is not None else "",
        )  # fmt: skip

    def export_to(self, folder: str | Path, heatmap: bool = True) -> bool:
        """SR (+ the asked finding's parametric map) for a DICOM source, JSON, and a PNG of
        the window; in the background. False when it cannot start."""
        try:
            report = self._report()
        except RadVoiceError as err:
            self.win.show_error(str(err))
            return False
        volume = self.win.viewer.volume
        folder = Path(folder)
        png = folder / "findings_window.png"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.win.save_screenshot(png)
        except (OSError, RadVoiceError) as err:
            self.win.show_error(f"cannot write to {folder}: {err}")
            return False
        label = report.query["label"] if report.query and heatmap else None

        def work(progress, cancel):
            from radvoice.export import export_results, load_source_series

            source = Path(volume.source) if volume is not None and volume.source else None
            sources = None
            if source is not None and source.is_dir():
                uid = volume.meta.get("SeriesInstanceUID")
                sources = load_source_series(source, str(uid) if uid else None)
            maps = {}
            if sources and label:
                from radvoice.nn.heatmap import heatmap as compute

                maps[label] = compute(volume, label)
            files = export_results(folder, report, sources, maps, volume=None)
            files.png = png
            return files

        return self._run("exporting findings", work, self._exported)

    def _exported(self, files) -> None:
        self.last_export = files
        names = ", ".join(p.name for p in files.paths())
        self.win.statusBar().showMessage(f"Exported {names}", 10000)

    def send_results(self) -> bool:
        """Store the last export's DICOM objects on the study browser's node."""
        files = self.last_export
        if files is None or not files.datasets:
            self.win.show_error("nothing to send: export findings of a DICOM series first")
            return False
        browser = self.browse()
        try:
            node = browser.node()
        except RadVoiceError as err:
            self.win.show_error(str(err))
            return False

        def work(progress, cancel):
            from radvoice.pacs import connect

            return connect(node).store(files.datasets)

        def done(n: int) -> None:
            self.win.statusBar().showMessage(f"Stored {n} DICOM objects on {node.name}", 10000)

        return self._run(f"sending results to {node.name}", work, done)

    def _run(self, what: str, fn, on_done) -> bool:
        if self.task is not None and self.task.busy():
            self.win.show_error("busy: wait for the running export or send")
            return False
        task = PacsTask(fn, what, self.win)
        task.done.connect(on_done)
        task.failed.connect(self.win.show_error)
        self.task = task
        self.win.statusBar().showMessage(f"{what[0].upper()}{what[1:]}…")
        task.start()
        return True

    def shutdown(self) -> None:
        if self.task is not None and self.task.isRunning():
            self.task.wait(60000)
        if self.browser is not None:
            self.browser.shutdown()
        if self.comparison is not None:
            self.comparison.shutdown()
