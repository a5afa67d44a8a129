"""Side panels: findings chart, prior cases, push-to-talk (Qt widgets, no VTK)."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")
from PySide6.QtCore import Qt

from radvoice.commands import Command, CommandRegistry
from radvoice.components.state import (
    NO_MODEL_STATUS,
    FindingsState,
    PriorResult,
    PriorsState,
    TalkPhase,
    TalkState,
)

pytestmark = pytest.mark.gui


def _png(qapp) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage

    img = QImage(16, 16, QImage.Format.Format_RGB32)
    img.fill(QColor(200, 50, 50))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data.data())


def test_findings_empty_state_then_sorted_bars(qtbot):
    from radvoice.app.panels.findings import FindingsPanel

    state = FindingsState()
    panel = FindingsPanel(state)
    qtbot.addWidget(panel)
    assert panel.showing_empty_state and panel.empty.text() == NO_MODEL_STATUS
    assert panel.order == []
    assert panel.caption.isHidden()  # no numbers, no caption about them
    state.set_results(
        {"Emphysema": 0.4, "Lung nodule": 0.9, "Cardiomegaly": 0.1, "Atelectasis": 0.6},
        {"Emphysema": 0.3, "Lung nodule": 0.5, "Cardiomegaly": 0.2},
        queried_label="Cardiomegaly",
        status="heard 2.1 s",
    )
    assert not panel.showing_empty_state
    assert [label for label, _ in panel.order] == [
        "Cardiomegaly",  # the queried label comes first even when least likely
        "Lung nodule",
        "Atelectasis",
        "Emphysema",
    ]
    assert list(panel.bars.opts["width"]) == [0.1, 0.9, 0.6, 0.4]
    assert len(panel.markers.data) == 3  # one tick per known threshold (none for Atelectasis)
    assert "Cardiomegaly" in panel.status.text() and "below threshold" in panel.status.text()
    # with numbers shown, the panel says what they are and are not
    assert not panel.caption.isHidden() and "Research use only" in panel.caption.text()
    assert "not for clinical use" in panel.caption.toolTip().lower()
    state.set_results(
        {"Emphysema": 0.4, "Lung nodule": 0.9, "Cardiomegaly": 0.1, "Atelectasis": 0.6},
        queried_label="Cardiomegaly",
        alternatives=("Emphysema",),  # a near tie of the question comes right after it
    )
    assert [label for label, _ in panel.order][:3] == ["Cardiomegaly", "Emphysema", "Lung nodule"]
    assert "or <b>Emphysema</b>: 0.40" in panel.status.text()
    state.set_results({"Lung nodule": 0.9}, queried_label="Lung nodule", alternatives=["Emphysema"])
    assert [label for label, _ in panel.order] == ["Lung nodule"]  # no number, no line for it
    assert "Emphysema" not in panel.status.text()
    state.clear("model failed to load: models/registry.json missing")
    assert panel.showing_empty_state and "registry.json" in panel.empty.text()
    assert panel.caption.isHidden()
    panel.detach()
    state.set_results({"Emphysema": 0.5})  # detached: no longer follows the state
    assert panel.showing_empty_state


def test_findings_update_from_a_worker_thread_arrives_on_gui_thread(qtbot):
    from radvoice.app.panels.findings import FindingsPanel

    state = FindingsState()
    panel = FindingsPanel(state)
    qtbot.addWidget(panel)
    seen_threads = []
    original = panel.refresh

    def spy():
        seen_threads.append(threading.current_thread() is threading.main_thread())
        original()

    panel.refresh = spy  # type: ignore[method-assign]
    worker = threading.Thread(target=lambda: state.set_results({"Emphysema": 0.8}))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: not panel.showing_empty_state, timeout=5000)
    assert seen_threads and all(seen_threads)
    panel.detach()


def test_priors_list_and_open_request(qtbot, qapp):
    from radvoice.app.panels.priors import PriorsPanel

    state = PriorsState()
    panel = PriorsPanel(state)
    qtbot.addWidget(panel)
    assert panel.showing_empty_state
    state.set_results(
        [
            PriorResult("case-7", 0.61, ("Emphysema",), "Centrilobular emphysema.", None, "/a"),
            PriorResult(
                "case-3", 0.83, ("Lung nodule",), "8 mm nodule RUL. " * 20, _png(qapp), "/b"
            ),
        ]
    )
    assert panel.list.count() == 2
    first = panel.list.item(0)
    assert first.text().startswith("case-3   similarity 0.83")
    assert "Lung nodule" in first.text() and first.text().endswith("…")
    assert not first.icon().isNull() and panel.list.item(1).icon().isNull()
    with qtbot.waitSignal(panel.open_requested) as blocker:
        panel.list.itemDoubleClicked.emit(first)
    assert blocker.args == ["/b"]


def test_talk_panel_button_drives_hold_command_and_shows_state(qtbot):
    from radvoice.app.panels.talk import TalkPanel, meter_fraction

    calls = []
    reg = CommandRegistry()
    reg.register(
        Command(
            "talk.push",
            "Push to talk",
            press=lambda: calls.append("press"),
            release=lambda: calls.append("release"),
            shortcut="Space",
        )
    )
    state = TalkState()
    panel = TalkPanel(state, reg)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.mousePress(panel.button, Qt.MouseButton.LeftButton)
    assert calls == ["press"] and reg.is_held("talk.push")
    qtbot.mouseRelease(panel.button, Qt.MouseButton.LeftButton)
    assert calls == ["press", "release"]

    state.set_phase(TalkPhase.LISTENING)
    state.update_level(-18.0, -6.0, 2.5)
    assert panel.phase.text() == "Listening…" and panel.elapsed.text() == "2.5 s"
    assert panel.meter.level_dbfs == -18.0 and panel.meter.peak_dbfs == -6.0
    state.set_phase(TalkPhase.THINKING, "heard 2.5 s")
    assert panel.message.text() == "heard 2.5 s"
    assert meter_fraction(-60.0) == 0.0 and meter_fraction(0.0) == 1.0
    assert meter_fraction(-30.0) == pytest.approx(0.5)

    reg.set_enabled("talk.push", False)
    qtbot.mousePress(panel.button, Qt.MouseButton.LeftButton)  # disabled: error, no crash
    qtbot.mouseRelease(panel.button, Qt.MouseButton.LeftButton)
    assert state.phase is TalkPhase.ERROR and "not available" in state.message
    assert calls == ["press", "release"]
