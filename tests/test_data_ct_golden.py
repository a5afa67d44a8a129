"""Golden checksums: synthetic (non-real-background) output must stay bit-identical.

A model is trained on ``generate_case(seed, index)`` streams and fixtures depend on it, so
any change to the generator (speed-ups included) must leave these digests unchanged.
The digests were computed from the generator before the real-anatomy work (issue 4).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from radvoice.data.synth import generate_case
from radvoice.labels import PATHOLOGIES

VOLUME_0_0 = "dc2b17c1dc35d36be2c7435493beef598cd76b97bb4d494d4131a41e2bb66e2e"
VOLUME_3_7 = "9de91b849555fbc9a4fa434fdbb9f7d5dbc39a31adc9c9778aa5cb7d8ce0ccc4"
CASE_0_0 = "12274973c98f9dbe5628e9bbdfbfa7095e87287fd4100b11dbd33df231be108f"
CASE_3_7 = "09cea13b1cb8fb0d37a3ce1146cf846bc20d973eb3aeaa6467de9e66e2a3be16"
# every painter at once, on a small grid (seed 1, index 2, all 18 labels forced)
VOLUME_ALL = "e98b12ffe86eb95548d73ab33b191fad8d3d723429fdfdcb2af1ec676d6d0e54"
CASE_ALL = "20ec0afed2b3f5b36a0984d6c8d8af691164c0b949fd7cf6e663ee0c0cffd434"


def _volume_digest(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(f"{array.shape}{array.dtype}".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def _case_digest(case) -> str:
    """Everything else a case carries: labels, masks, attrs, report, queries, geometry."""
    h = hashlib.sha256()
    h.update(case.labels.astype(np.int8).tobytes())
    h.update(case.known.astype(np.int8).tobytes())
    for name in sorted(case.masks):
        h.update(name.encode())
        h.update(np.packbits(case.masks[name]).tobytes())
    doc = {
        "findings": case.findings,
        "report": case.report.to_dict(),
        "queries": [q.to_dict() for q in case.queries],
        "spacing": [round(float(s), 9) for s in case.volume.spacing],
        "origin": [round(float(o), 9) for o in case.volume.origin],
    }
    h.update(json.dumps(doc, sort_keys=True, default=str).encode())
    return h.hexdigest()


def test_synthetic_case_0_0_is_bit_identical() -> None:
    case = generate_case(0, 0)
    assert case.volume.array.shape == (64, 128, 128)
    assert _volume_digest(case.volume.array) == VOLUME_0_0
    assert _case_digest(case) == CASE_0_0


def test_synthetic_case_3_7_is_bit_identical() -> None:
    case = generate_case(3, 7)
    assert _volume_digest(case.volume.array) == VOLUME_3_7
    assert _case_digest(case) == CASE_3_7


def test_synthetic_all_findings_small_grid_is_bit_identical() -> None:
    case = generate_case(1, 2, shape=(24, 64, 64), spacing=(5.6, 5.6, 12.0), labels=PATHOLOGIES)
    assert _volume_digest(case.volume.array) == VOLUME_ALL
    assert _case_digest(case) == CASE_ALL


def test_fast_gaussian_gives_scipys_bits(monkeypatch) -> None:
    from scipy import ndimage

    from radvoice.data.phantom import filters
    from radvoice.data.phantom.filters import gaussian_filter

    monkeypatch.setattr(filters, "CHUNK", 700)  # many slabs, a short last one
    rng = np.random.default_rng(4)
    a = (rng.standard_normal((9, 70, 33)) * 300).astype(np.float32)
    for sigma, mode, truncate in [
        ((0.42, 0.35, 0.35), "reflect", 2.5),
        ((0.4, 0.8, 0.8), "reflect", 2.5),
        ((1.5, 0.0, 2.6), "constant", 2.5),
        (3.0, "reflect", 4.0),  # kernel longer than the first axis: scipy's own path
    ]:
        ref = ndimage.gaussian_filter(a, sigma, mode=mode, truncate=truncate)
        out = gaussian_filter(a, sigma, truncate=truncate, mode=mode)
        assert out.dtype == np.float32 and np.array_equal(out, ref)
    assert not np.array_equal(gaussian_filter(a, 1.0), a)
