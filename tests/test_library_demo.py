"""build-demo logic with the test embedder: synthetic cases, lung1/lung2, resumable."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_library_support import HashEmbedder, labels_for, make_volume

from radvoice.labels import PATHOLOGY_INDEX
from radvoice.library import demo
from radvoice.library.library import CaseLibrary

EFFUSION = PATHOLOGY_INDEX["Pleural effusion"]


def fake_generate(seed: int, index: int = 0):
    labels = np.asarray(labels_for(index), dtype=np.int8)
    labels[EFFUSION] = index % 2
    text = "Right pleural effusion." if labels[EFFUSION] else "No pleural effusion."
    report = SimpleNamespace(text=f"Findings: {text} Case {index}.\nImpression: as above.")
    return SimpleNamespace(volume=make_volume(1000 * seed + index), labels=labels, report=report,
                           known=np.ones(18, bool))  # fmt: skip


@pytest.mark.realct
def test_build_demo_with_real_cases_is_resumable(tmp_path, real_ct_dir, monkeypatch):
    monkeypatch.setattr(demo, "synthetic_generator", lambda: fake_generate)
    emb = HashEmbedder()
    with CaseLibrary(tmp_path / "lib", notify=lambda m: None) as lib:
        first = demo.build_demo(lib, emb, n_synthetic=4, ct_dir=real_ct_dir, seed=3)
        assert (first.added, first.skipped, first.failed) == (6, 0, [])
        again = demo.build_demo(lib, emb, n_synthetic=6, ct_dir=real_ct_dir, seed=3)
        assert (again.added, again.skipped) == (2, 6)
        cases = {c.source: c for c in lib.store.list_cases()}
        assert "synthetic:3:5" in cases and cases["synthetic:3:1"].report.startswith("Findings:")
        lung1 = cases[str((real_ct_dir / "lung1_image.nrrd").resolve())]
        lung2 = cases[str((real_ct_dir / "lung2_image.nrrd").resolve())]
        assert lung1.labels is None and "small lung nodule of about 1.4 cm3" in lung1.report
        assert "lung mass of about" in lung2.report and lung2.shape == (61, 512, 512)
        hits = lib.search_text(emb, "right pleural effusion", k=3, space="report")
        assert all("Pleural effusion" in h.to_json()["labels"] for h in hits)
