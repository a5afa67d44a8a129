"""The study browser against a real PACS (a private Orthanc), the comparison window, and
File ▸ Export Findings / Send Results, under Xvfb."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

pytestmark = [pytest.mark.gui, pytest.mark.realct, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def pacs_env(orthanc, tmp_path, monkeypatch):
    """Settings, PACS nodes and the series cache in private folders; one node, 'lab'."""
    from radvoice.pacs import NodeStore

    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("RADVOICE_PACS_NODES", str(tmp_path / "nodes.json"))
    monkeypatch.setenv("RADVOICE_PACS_CACHE", str(tmp_path / "cache"))
    NodeStore().add(orthanc.node("lab"))
    return tmp_path


@pytest.fixture()
def window(qtbot, pacs_env):
    from PySide6.QtWidgets import QApplication

    from radvoice.app.main_window import MainWindow
    from radvoice.app.theme import apply_dark_theme

    apply_dark_theme(QApplication.instance())
    win = MainWindow(volume_max_dim=48, force_cpu_volume=True, persist_settings=False)
    win.resize(1100, 760)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _idle(qtbot, dialog, timeout=120000):
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=timeout)


def test_browse_retrieve_open_and_compare(qtbot, window, pacs_studies, pacs_env):
    dialog = window.commands.invoke("pacs.browse") or window.pacs.browser
    assert dialog.isVisible() and dialog.node_combo.currentData() == "lab"
    dialog.fields["patient_id"].setText(pacs_studies.patient_id)
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.study_table.rowCount() >= 2, timeout=60000)
    _idle(qtbot, dialog)
    # newest first: lung2's study is selected; its series and the chest prior are listed
    qtbot.waitUntil(lambda: dialog.prior_table.rowCount() == 1, timeout=60000)
    _idle(qtbot, dialog)
    assert dialog.selected_study().study_uid == pacs_studies.lung2_study
    assert dialog.study_table.isColumnHidden(2)  # no patient names unless asked for
    assert dialog.priors[0].study_uid == pacs_studies.lung1_study
    assert dialog.selected_series().series_uid == pacs_studies.lung2_series
    if os.environ.get("RADVOICE_DOCS_SCREENSHOTS"):
        dialog.grab().save(str(REPO / "docs" / "study_browser.png"))
    steps: list[tuple[int, int]] = []
    assert dialog.open_selected_series()
    dialog.task.progress.connect(lambda d, n: steps.append((d, n)))
    qtbot.waitUntil(lambda: window.viewer.volume is not None and not window.loading, timeout=180000)
    vol = window.viewer.volume
    assert vol.shape == (pacs_studies.n_lung2, 512, 512)
    assert str(vol.meta.get("SeriesInstanceUID")) == pacs_studies.lung2_series
    assert steps and steps[-1][0] == steps[-1][1] == pacs_studies.n_lung2
    # the prior opens in the comparison window
    assert dialog.compare_selected_prior()
    qtbot.waitUntil(lambda: window.pacs.comparison is not None
                    and window.pacs.comparison.volume is not None, timeout=180000)  # fmt: skip
    comp = window.pacs.comparison
    assert comp.volume.shape == (pacs_studies.n_lung1, 512, 512)
    assert "2024-01-10" in comp.caption.text()
    pixels = comp.views["axial"].capture()
    assert pixels.std() > 8  # the prior is drawn


def test_cancel_and_faults_keep_the_app_up(qtbot, window, pacs_studies, pacs_env, orthanc):
    from radvoice.pacs import NodeStore, SeriesCache

    dialog = window.pacs.browse()
    dialog.fields["accession"].setText("ACC-L1")
    dialog.fields["modality"].setText("")
    assert dialog.search()
    qtbot.waitUntil(lambda: dialog.series_table.rowCount() == 1, timeout=60000)
    _idle(qtbot, dialog)
    assert dialog.open_selected_series()
    dialog.cancel_task()
    _idle(qtbot, dialog)
    assert "cancel" in dialog.last_error or "cancel" in dialog.last_message
    cache = SeriesCache(pacs_env / "cache")
    assert cache.lookup(pacs_studies.lung1_study, pacs_studies.lung1_series) is None
    assert cache.partials() == []
    # a bad date and a dead node: one line in the dialog, the window stays usable
    dialog.fields["date_from"].setText("soon")
    assert not dialog.search() and "YYYYMMDD" in dialog.last_error
    NodeStore().add(orthanc.node("dead", port=1, dicomweb_url=""))
    dialog.reload_nodes(select="dead")
    dialog.fields["date_from"].setText("")
    assert dialog.echo()
    _idle(qtbot, dialog)
    assert "cannot reach" in dialog.last_error
    assert window.isVisible() and not window.closed


def test_export_findings_and_send(qtbot, window, pacs_studies, pacs_env, orthanc):
    from radvoice.labels import PATHOLOGIES
    from radvoice.pacs import connect

    window.pacs.export_to(pacs_env / "none")
    assert "no findings" in window.last_error
    window.open_path(str(pacs_studies.lung2_folder))
    qtbot.waitUntil(lambda: window.viewer.volume is not None and not window.loading, timeout=120000)
    probs = {k: 0.2 + 0.03 * i for i, k in enumerate(PATHOLOGIES)}
    window.findings.set_results(probs, {k: 0.5 for k in PATHOLOGIES}, "Pleural effusion")
    out = pacs_env / "export"
    assert window.pacs.export_to(out, heatmap=False)
    qtbot.waitUntil(lambda: window.pacs.last_export is not None, timeout=120000)
    files = window.pacs.last_export
    assert {p.name for p in files.paths()} == {"findings_sr.dcm", "findings.json",
                                               "findings_window.png"}  # fmt: skip
    assert json.loads(files.json.read_text())["query"]["label"] == "Pleural effusion"
    before = len(connect(orthanc.node()).find_series(pacs_studies.lung2_study))
    window.pacs.browse().reload_nodes(select="lab")
    assert window.pacs.send_results()
    qtbot.waitUntil(lambda: not window.pacs.task.isRunning(), timeout=60000)
    after = connect(orthanc.node()).find_series(pacs_studies.lung2_study)
    assert len(after) == before + 1 and "SR" in {s.modality for s in after}
    shutil.rmtree(out)
