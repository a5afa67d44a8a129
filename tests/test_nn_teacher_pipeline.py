"""RadVoiceModels on an exported (tiny) teacher: embeddings, zero-shot, query matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radvoice.cli.main import main as cli_main
from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES
from radvoice.nn.pipeline import RadVoiceModels
from radvoice.nn.registry import ModelIntegrityError
from radvoice.training.toy import toy_volume


@pytest.fixture(scope="module")
def models_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    code = cli_main(
        [
            "train",
            "teacher",
            "--config",
            "teacher_tiny",
            "--data",
            "toy:12",
            "--max-steps",
            "1",
            "--out",
            str(root.parent / "run"),
            "--export",
            str(root / "teacher"),
            "--no-progress",
        ]
    )
    assert code == 0
    return root


def test_embeddings_are_unit_vectors(models_root: Path) -> None:
    models = RadVoiceModels(models_root, device="cpu")
    labels = np.zeros(len(PATHOLOGIES), int)
    labels[2] = 1
    v = models.embed_volume(toy_volume(labels, seed=1))
    t = models.embed_text("Cardiomegaly is present.")
    for e in (v, t):
        assert e.shape == (512,) and e.dtype == np.float32
        assert abs(float(np.linalg.norm(e)) - 1.0) < 1e-4
    # the same volume in another orientation gives the same embedding (canonical grid)
    vol = toy_volume(labels, seed=1)
    flipped = vol.with_array(vol.array[:, :, ::-1].copy())
    flipped.direction = np.diag([-1.0, 1.0, 1.0])
    flipped.origin = tuple(vol.index_to_lps((vol.shape[2] - 1, 0, 0)))
    assert np.allclose(models.embed_volume(flipped), v, atol=1e-5)
    with pytest.raises(RadVoiceError):
        models.embed_text("   ")


def test_zero_shot_thresholds_and_query(models_root: Path) -> None:
    models = RadVoiceModels(models_root, device="cpu")
    v = models.embed_volume(toy_volume(np.zeros(len(PATHOLOGIES), int), seed=2))
    probs = models.zero_shot(v)
    assert list(probs) == list(PATHOLOGIES)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert set(models.thresholds) == set(PATHOLOGIES)
    label, score = models.match_query(models._query_prototypes()[5].numpy())
    assert label == PATHOLOGIES[5] and score > 0.999
    label, score = models.match_query(models.embed_text("Is there a pleural effusion?"))
    assert label in PATHOLOGIES and -1.0 <= score <= 1.0


def test_missing_models_are_clear_errors(tmp_path: Path) -> None:
    models = RadVoiceModels(tmp_path, device="cpu")
    with pytest.raises(ModelIntegrityError, match="teacher model not found"):
        models.embed_text("x")
    with pytest.raises(ModelIntegrityError, match="speech model not found"):
        models.embed_audio(np.zeros(16000, np.float32))


def test_findings_load_no_text_encoder_until_text_is_embedded(models_root: Path) -> None:
    """Volumes and zero-shot use the teacher without MiniLM; the first text loads it, and
    both give the same CT embedding."""
    models = RadVoiceModels(models_root, device="cpu")
    volume = toy_volume(np.zeros(len(PATHOLOGIES), int), seed=3)
    models.preload("ct")
    ct_only = models.embed_volume(volume)
    models.zero_shot(ct_only)
    assert models._bundle is None and models._ct_bundle is not None
    assert models._teacher().clip.text is None
    models.preload("text")
    assert models._bundle is not None and models._ct_bundle is None
    assert np.allclose(models.embed_volume(volume), ct_only, atol=1e-6)
    with pytest.raises(ValueError, match="unknown model part"):
        models.preload("everything")
