"""Choose one series when a DICOM folder holds several."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radvoice.imaging import SeriesInfo


class SeriesDialog(QDialog):
    """A table of series (description, modality, slices, size); the largest is preselected."""

    def __init__(self, series: list[SeriesInfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.resize(620, 320)
        self.series = list(series)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"This folder holds {len(series)} series. Which one to open?"))
        self.table = QTableWidget(len(series), 4)
        self.table.setHorizontalHeaderLabels(["Description", "Modality", "Slices", "Size"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, s in enumerate(series):
            _n, rows, cols = s.shape
            for col, text in enumerate(
                (s.description or "(no description)", s.modality, str(s.n_slices), f"{cols}x{rows}")
            ):
                self.table.setItem(row, col, QTableWidgetItem(text))
        if series:
            best = max(range(len(series)), key=lambda i: series[i].n_slices)
            self.table.selectRow(best)
        self.table.doubleClicked.connect(lambda *_: self.accept())
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def selected(self) -> SeriesInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows else None
