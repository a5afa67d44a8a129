"""The import contracts of pyproject.toml (layers, no Qt below the app, no module cycles) hold,
and each one fails on a planted violation (so the check cannot pass vacuously)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_tree_keeps_every_contract():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.json", "*.qss", "*.txt")
    shutil.copytree(ROOT / "radvoice", root / "radvoice", ignore=ignore)
    return root


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("training/_planted.py", "import radvoice.eval.runner\n", "Layers"),
        ("nn/_planted.py", "from radvoice.data import synth\n", "Layers"),
        ("assistant/_planted.py", "import PySide6.QtCore\n", "No Qt or VTK"),
        ("library/_planted.py", "import radvoice.library.library\n", None),
    ],
)
def test_a_planted_violation_breaks_its_contract(copy, module, line, broken):
    planted = copy / "radvoice" / module
    planted.write_text(line)
    cycle = None
    if broken is None:  # a cycle: library imports the planted module that imports library
        broken = "No import cycles"
        cycle = copy / "radvoice" / "library" / "library.py"
        original = cycle.read_text()
        cycle.write_text(original + "\nimport radvoice.library._planted  # noqa\n")
    try:
        out = _lint(copy)
    finally:
        planted.unlink()
        if cycle is not None:
            cycle.write_text(original)
    assert out.returncode == 1
    assert f"{broken}" in out.stdout and out.stdout.count("BROKEN") == 1, out.stdout[-2000:]
    assert any(ln.startswith(broken) and ln.endswith("BROKEN") for ln in out.stdout.splitlines())
