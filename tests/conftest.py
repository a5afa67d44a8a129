"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_real_ct() -> Path | None:
    for cand in (REPO.parent / "shared" / "data" / "ct", REPO / ".." / "shared" / "data" / "ct"):
        if (cand / "lung1_image.nrrd").exists():
            return cand.resolve()
    return None


@pytest.fixture(scope="session")
def real_ct_dir() -> Path:
    """../shared/data/ct (lung1 for anything, lung2 held out from training)."""
    path = _find_real_ct()
    if path is None:
        pytest.fail("../shared/data/ct with lung1_image.nrrd not found beside the checkout")
    return path
