"""Shared fixtures: the ``radvoice.testing`` plugin (``real_ct_dir``, ``make_main_window``, the
LLVM preload and the end-of-session widget clean-up; see docs/DEVELOPING.md)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["radvoice.testing.plugin"]
