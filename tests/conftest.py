"""Shared fixtures: the ``radvoice.testing`` plugin (``real_ct_dir``, ``make_main_window``, the
LLVM preload and the end-of-session widget clean-up; see docs/DEVELOPING.md) and a private
Orthanc PACS for the session (``tests/pacs_support.py``)."""

from __future__ import annotations

from pathlib import Path

from pacs_support import orthanc, pacs_studies  # noqa: F401  (session fixtures: a private Orthanc)

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["radvoice.testing.plugin"]
