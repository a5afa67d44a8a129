"""The study browser: query a PACS node, choose a study and a series, retrieve it (in the
background, with progress and cancel) into the cache and open it; the patient's earlier chest
CTs are listed beside the study and open in the comparison window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from radvoice.app.pacs_worker import PacsTask
from radvoice.errors import RadVoiceError
from radvoice.pacs import (
    NodeStore,
    PacsNode,
    RemoteSeries,
    SeriesCache,
    StudyInfo,
    StudyQuery,
    connect,
    find_priors,
    retrieve_series,
)

STUDY_COLUMNS = ("Date", "Patient ID", "Name", "Description", "Modalities", "Accession", "Images")
SERIES_COLUMNS = ("#", "Modality", "Description", "Images")
PRIOR_COLUMNS = ("Date", "Description", "Images")


def _fmt_date(d: str) -> str:
    return f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 else d


def _table(columns: tuple[str, ...], name: str) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(list(columns))
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _study_row(s: StudyInfo) -> tuple:
    return (_fmt_date(s.study_date), s.patient_id, s.patient_name, s.description, s.modalities,
            s.accession, s.n_instances)  # fmt: skip


def _fill(table: QTableWidget, rows: list[tuple]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem("" if value is None else str(value))
            if isinstance(value, int):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class StudyBrowserDialog(QDialog):
    """Non-modal. ``open_requested(path, series_uid)``: open a retrieved series in the viewer;
    ``compare_requested(path, title)``: open a retrieved prior in the comparison window."""

    open_requested = Signal(str, str)
    compare_requested = Signal(str, str)

    def __init__(
        self,
        store: NodeStore | None = None,
        cache: SeriesCache | None = None,
        show_names: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open from PACS")
        self.setObjectName("studyBrowser")
        self.resize(980, 640)
        self.store = store or NodeStore()
        self._cache = cache
        self.show_names = show_names
        self.studies: list[StudyInfo] = []
        self.series: list[RemoteSeries] = []
        self.priors: list[StudyInfo] = []
        self.task: PacsTask | None = None
        self.last_message = ""
        self.last_error = ""

        layout = QVBoxLayout(self)
        layout.addWidget(self._node_row())
        layout.addWidget(self._query_box())
        self.study_table = _table(STUDY_COLUMNS, "studyTable")
        self.study_table.itemSelectionChanged.connect(self._on_study_selected)
        self.study_table.setColumnHidden(2, not show_names)
        layout.addWidget(self.study_table, 3)
        lower = QHBoxLayout()
        series_box = QGroupBox("Series")
        sl = QVBoxLayout(series_box)
        self.series_table = _table(SERIES_COLUMNS, "seriesTable")
        self.series_table.doubleClicked.connect(lambda _i: self.open_selected_series())
        sl.addWidget(self.series_table)
        self.open_button = QPushButton("Retrieve && Open Series")
        self.open_button.setObjectName("openSeries")
        self.open_button.clicked.connect(self.open_selected_series)
        sl.addWidget(self.open_button)
        lower.addWidget(series_box, 3)
        prior_box = QGroupBox("Priors: the patient's earlier chest CTs")
        pl = QVBoxLayout(prior_box)
        self.prior_table = _table(PRIOR_COLUMNS, "priorTable")
        self.prior_table.doubleClicked.connect(lambda _i: self.compare_selected_prior())
        pl.addWidget(self.prior_table)
        self.compare_button = QPushButton("Retrieve && Compare")
        self.compare_button.setObjectName("comparePrior")
        self.compare_button.clicked.connect(self.compare_selected_prior)
        pl.addWidget(self.compare_button)
        lower.addWidget(prior_box, 2)
        layout.addLayout(lower, 2)
        self.series_table.itemSelectionChanged.connect(self._update_buttons)
        self.prior_table.itemSelectionChanged.connect(self._update_buttons)
        bottom = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("Choose a node and search.")
        self.status.setObjectName("pacsStatus")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_task)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        layout.addLayout(bottom)
        self.reload_nodes()
        self._update_buttons()

    # -- construction -------------------------------------------------------------------------
    def _node_row(self) -> QWidget:
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(QLabel("PACS node:"))
        self.node_combo = QComboBox()
        self.node_combo.setObjectName("nodeCombo")
        self.node_combo.setMinimumWidth(320)
        h.addWidget(self.node_combo, 1)
        self.echo_button = QPushButton("Test (Echo)")
        self.echo_button.clicked.connect(self.echo)
        h.addWidget(self.echo_button)
        self.add_node_button = QPushButton("Add Node…")
        self.add_node_button.clicked.connect(self._toggle_node_form)
        h.addWidget(self.add_node_button)
        wrap = QWidget()
        v = QVBoxLayout(wrap)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(row)
        v.addWidget(self._node_form())
        return wrap

    def _node_form(self) -> QWidget:
        self.node_form = QGroupBox("New node (DIMSE and/or DICOMweb)")
        g = QGridLayout(self.node_form)
        self.node_fields = {k: QLineEdit() for k in ("name", "ae", "host", "port", "url", "calling")}
        self.node_fields["calling"].setText("RADVOICE")
        self.node_fields["url"].setPlaceholderText("http://host:8042/dicom-web")
        labels = ("Name", "AE title", "Host", "Port", "DICOMweb URL", "Our AE")
        for i, (key, label) in enumerate(zip(self.node_fields, labels, strict=True)):
            g.addWidget(QLabel(label), i // 3, 2 * (i % 3))
            g.addWidget(self.node_fields[key], i // 3, 2 * (i % 3) + 1)
        save = QPushButton("Save Node")
        save.clicked.connect(self.save_node_form)
        g.addWidget(save, 2, 5)
        self.node_form.setVisible(False)
        return self.node_form

    def _query_box(self) -> QWidget:
        box = QGroupBox("Query")
        g = QGridLayout(box)
        self.fields = {
            "patient_id": QLineEdit(),
            "patient_name": QLineEdit(),
            "accession": QLineEdit(),
            "date_from": QLineEdit(),
            "date_to": QLineEdit(),
            "modality": QLineEdit("CT"),
        }
        self.fields["date_from"].setPlaceholderText("YYYY-MM-DD")
        self.fields["date_to"].setPlaceholderText("YYYY-MM-DD")
        self.fields["patient_name"].setPlaceholderText("DOE^* (wildcards)")
        labels = ("Patient ID", "Name", "Accession", "From", "To", "Modality")
        for i, (key, label) in enumerate(zip(self.fields, labels, strict=True)):
            g.addWidget(QLabel(label), i // 3, 2 * (i % 3))
            g.addWidget(self.fields[key], i // 3, 2 * (i % 3) + 1)
            self.fields[key].returnPressed.connect(self.search)
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("searchButton")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        g.addWidget(self.search_button, 0, 6, 2, 1)
        return box

    # -- nodes --------------------------------------------------------------------------------
    @property
    def cache(self) -> SeriesCache:
        if self._cache is None:
            self._cache = SeriesCache()
        return self._cache

    def reload_nodes(self, select: str | None = None) -> None:
        try:
            nodes = self.store.load()
        except RadVoiceError as err:
            self._fail(str(err))
            nodes = {}
        current = select or self.node_combo.currentData()
        self.node_combo.clear()
        for node in nodes.values():
            self.node_combo.addItem(node.describe(), node.name)
        if current is not None and (i := self.node_combo.findData(current)) >= 0:
            self.node_combo.setCurrentIndex(i)

    def node(self) -> PacsNode:
        name = self.node_combo.currentData()
        if not name:
            from radvoice.pacs.errors import NodeConfigError

            raise NodeConfigError("no PACS node configured: add one first")
        return self.store.get(name)

    def _toggle_node_form(self) -> None:
        self.node_form.setVisible(not self.node_form.isVisible())

    def save_node_form(self) -> bool:
        f = {k: w.text().strip() for k, w in self.node_fields.items()}
        try:
            port = int(f["port"]) if f["port"] else 0
            node = PacsNode(
                name=f["name"], ae_title=f["ae"], host=f["host"], port=port,
                dicomweb_url=f["url"].rstrip("/"), calling_ae=f["calling"] or "RADVOICE",
            )  # fmt: skip
            self.store.add(node)
        except ValueError:
            self._fail("the port must be a number")
            return False
        except RadVoiceError as err:
            self._fail(str(err))
            return False
        self.reload_nodes(select=node.name)
        self.node_form.setVisible(False)
        self._say(f"saved {node.describe()}")
        return True

    # -- tasks --------------------------------------------------------------------------------
    def busy(self) -> bool:
        return self.task is not None and self.task.busy()

    def _say(self, text: str) -> None:
        self.last_message = text
        self.status.setText(text)

    def _fail(self, text: str) -> None:
        self.last_error = text
        self._say(f"⚠ {text}")

    def _start(self, what: str, fn, on_done, determinate: bool = False) -> bool:
        if self.busy():
            self._say("busy: wait or cancel")
            return False
        try:
            node = self.node()
        except RadVoiceError as err:
            self._fail(str(err))
            return False
        task = PacsTask(lambda progress, cancel: fn(connect(node), progress, cancel), what, self)
        task.progress.connect(self._on_progress)
        task.done.connect(on_done)
        task.failed.connect(self._fail)
        task.finished.connect(self._on_finished)
        self.task = task
        self.progress.setRange(0, 0 if not determinate else 1)
        self.progress.setVisible(True)
        self.cancel_button.setEnabled(True)
        self._say(f"{what}…")
        self._update_buttons()
        task.start()
        return True

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.status.setText(f"retrieving {done}/{total} images…")

    def _on_finished(self) -> None:
        if self.busy():  # an older task ended after a newer one started
            return
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)
        self._update_buttons()

    def cancel_task(self) -> None:
        if self.busy():
            self.task.cancel()
            self._say("cancelling…")

    def _update_buttons(self) -> None:
        idle = not self.busy()
        for b in (self.search_button, self.echo_button):
            b.setEnabled(idle)
        self.open_button.setEnabled(idle and self.selected_series() is not None)
        self.compare_button.setEnabled(idle and self.selected_prior() is not None)

    # -- actions ------------------------------------------------------------------------------
    def echo(self) -> bool:
        def done(seconds: float) -> None:
            self._say(f"{self.node_combo.currentData()}: answers ({seconds * 1000:.0f} ms)")

        return self._start("testing the connection", lambda c, p, x: c.echo(), done)

    def query(self) -> StudyQuery:
        f = {k: w.text().strip() for k, w in self.fields.items()}
        return StudyQuery(**f)

    def search(self) -> bool:
        query = self.query()
        try:
            query.date_range()
        except RadVoiceError as err:
            self._fail(str(err))
            return False
        return self._start("searching", lambda c, p, x: c.find_studies(query), self._on_studies)

    def _on_studies(self, studies: list[StudyInfo]) -> None:
        self.studies = sorted(studies, key=lambda s: (s.study_date, s.study_time), reverse=True)
        rows = [_study_row(s) for s in self.studies]
        _fill(self.study_table, rows)
        _fill(self.series_table, [])
        _fill(self.prior_table, [])
        self._say(f"{len(self.studies)} studies")
        if self.studies:
            self.study_table.selectRow(0)

    def selected_study(self) -> StudyInfo | None:
        rows = self.study_table.selectionModel().selectedRows()
        return self.studies[rows[0].row()] if rows and rows[0].row() < len(self.studies) else None

    def selected_series(self) -> RemoteSeries | None:
        rows = self.series_table.selectionModel().selectedRows()
        return self.series[rows[0].row()] if rows and rows[0].row() < len(self.series) else None

    def selected_prior(self) -> StudyInfo | None:
        rows = self.prior_table.selectionModel().selectedRows()
        return self.priors[rows[0].row()] if rows and rows[0].row() < len(self.priors) else None

    def _on_study_selected(self) -> None:
        study = self.selected_study()
        if study is None or self.busy():
            return

        def work(client, progress, cancel):
            series = client.find_series(study.study_uid)
            priors = find_priors(client, study.patient_id, study.study_uid, study.study_date)
            return study, series, priors

        self._start("listing series and priors", work, self._on_series)

    def _on_series(self, result) -> None:
        _study, series, priors = result
        self.series = sorted(series, key=lambda s: (s.modality != "CT", s.number or 0))
        _fill(self.series_table, [(s.number, s.modality, s.description, s.n_instances)
                                  for s in self.series])  # fmt: skip
        self.priors = priors
        _fill(self.prior_table, [(_fmt_date(p.study_date), p.description, p.n_instances)
                                 for p in priors])  # fmt: skip
        ct = [i for i, s in enumerate(self.series) if s.modality == "CT"]
        if ct:
            self.series_table.selectRow(ct[0])
        if priors:
            self.prior_table.selectRow(0)
        self._say(f"{len(series)} series, {len(priors)} priors")
        self._update_buttons()

    def _retrieve(self, series: RemoteSeries | None, study: StudyInfo | None, compare: bool) -> bool:
        cache = self.cache
        title = f"{_fmt_date(study.study_date)} {study.description}" if study else ""

        def work(client, progress, cancel):
            s = series
            if s is None:  # a prior: its first CT series with the most images
                cts = [x for x in client.find_series(study.study_uid) if x.modality == "CT"]
                if not cts:
                    from radvoice.pacs.errors import NotCTError

                    raise NotCTError("the prior study has no CT series")
                s = max(cts, key=lambda x: x.n_instances or 0)
            return retrieve_series(client, s, cache, progress=progress, cancel=cancel)

        def done(got) -> None:
            origin = "from the cache" if got.from_cache else "retrieved"
            self._say(f"{got.n_instances} images {origin}")
            if compare:
                self.compare_requested.emit(str(got.path), title)
            else:
                self.open_requested.emit(str(got.path), got.series.series_uid)

        return self._start("retrieving", work, done, determinate=True)

    def open_selected_series(self) -> bool:
        series = self.selected_series()
        if series is None:
            self._say("choose a series")
            return False
        return self._retrieve(series, self.selected_study(), compare=False)

    def compare_selected_prior(self) -> bool:
        prior = self.selected_prior()
        if prior is None:
            self._say("choose a prior")
            return False
        return self._retrieve(None, prior, compare=True)

    def shutdown(self) -> None:
        if self.task is not None and self.task.isRunning():
            self.task.cancel()
            self.task.wait(30000)
