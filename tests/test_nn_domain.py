"""The out-of-domain answer: not a chest CT, not CT at all, or unlike the training cases."""

from __future__ import annotations

import numpy as np
import pytest

from radvoice.eval.ct_eval import ood_volumes
from radvoice.nn.domain import (
    MIN_IN_DISTRIBUTION,
    EmbeddingDomain,
    chest_ct_check,
    domain_answer,
)


@pytest.mark.parametrize("name", list(ood_volumes()))
def test_generated_non_chest_volumes_are_refused_with_a_reason(name):
    check = chest_ct_check(ood_volumes()[name])
    assert not check.chest_ct
    assert "\n" not in check.reason and check.reason.startswith(("not a", "no body"))
    answer = domain_answer(check, 1.0)
    assert not answer.ok and answer.message == check.reason


def test_modality_other_than_ct_is_refused():
    vol = ood_volumes()["head CT (generated)"]
    vol.meta["Modality"] = "MR"
    vol.modality = "MR"
    assert chest_ct_check(vol).reason == "not a CT: the modality is MR"


@pytest.mark.realct
@pytest.mark.parametrize("name", ["lung1", "lung2"])
def test_real_chest_cts_pass(real_ct_dir, name):
    from radvoice.imaging import read_volume

    check = chest_ct_check(read_volume(real_ct_dir / f"{name}_image.nrrd"))
    assert check.chest_ct, check.reason
    assert check.lung_ml > 1500 and check.lung_span_mm > 150


def test_embedding_typicality_orders_near_and_far():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 24)).astype(np.float32)
    held = rng.normal(size=(100, 24)).astype(np.float32)
    dom = EmbeddingDomain.fit(train, held, k=8)
    assert dom.score(train.mean(axis=0)) > 0.9
    far = dom.score(train.mean(axis=0) + 40 * dom.components[0] * dom.scales[0])
    assert far < MIN_IN_DISTRIBUTION * 10
    again = EmbeddingDomain.from_tensors(dom.tensors())
    assert again is not None and again.score(held[0]) == pytest.approx(dom.score(held[0]))
    assert EmbeddingDomain.from_tensors({}) is None


def test_a_chest_ct_unlike_training_calls_nothing():
    from radvoice.nn.domain import ChestCheck

    answer = domain_answer(ChestCheck(True, "chest CT"), 0.0)
    assert answer.chest_ct and not answer.ok and "unlike" in answer.message
