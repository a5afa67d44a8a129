"""Start-up order (radvoice.app.startup): the window first, the model stack imported off the GUI
thread and attached on it afterwards, with "loading" states meanwhile; the app blocks triton
instead of importing it (radvoice.app.assistant.preload)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

pytest.importorskip("PySide6")

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _settings(tmp_path, monkeypatch):
    monkeypatch.setenv("RADVOICE_SETTINGS_DIR", str(tmp_path / "settings"))


def test_window_first_then_the_model_stack_on_the_gui_thread(qtbot) -> None:
    from radvoice.app import startup
    from radvoice.app.main_window import MainWindow
    from radvoice.components.state import TalkPhase

    win = MainWindow(volume_max_dim=32, force_cpu_volume=True, persist_settings=False)
    qtbot.addWidget(win)
    win.show()
    gate = threading.Event()
    attached: list[str] = []
    imported = startup.import_heavy_modules

    def slow_import(names=startup.HEAVY_MODULES) -> float:
        gate.wait(60)  # hold the "import" until the loading state has been checked
        return imported(names)

    startup.import_heavy_modules = slow_import
    try:
        thread = startup.attach_when_ready(
            win, lambda w: attached.append(threading.current_thread().name)
        )
        assert win.findings.status == startup.LOADING_FINDINGS
        assert win.talk.message == startup.LOADING_TALK
        win.commands.press("talk.push")  # Space before push-to-talk is attached
        win.commands.release("talk.push")
        assert win.talk.phase is not TalkPhase.ERROR
        assert "still loading" in win.talk.message
        gate.set()
        qtbot.waitUntil(lambda: bool(attached), timeout=120000)
    finally:
        startup.import_heavy_modules = imported
    thread.join(5)
    assert attached == [threading.main_thread().name]
    assert "torch" in sys.modules and not win.model_stack_loading
    win.close()


def test_the_app_blocks_triton_instead_of_importing_it() -> None:
    code = (
        "import sys, importlib.util\n"
        "from radvoice.app.assistant.preload import block_llvm_users\n"
        "assert 'torch' not in sys.modules, 'the preload module must stay light'\n"
        "installed = importlib.util.find_spec('triton') is not None\n"
        "blocked = block_llvm_users()\n"
        "assert blocked == (['triton'] if installed else blocked)\n"
        "assert importlib.util.find_spec('triton') is None\n"
        "try:\n"
        "    import triton  # noqa: F401\n"
        "except ImportError:\n"
        "    print('blocked')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "blocked"
