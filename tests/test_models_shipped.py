"""The shipped weights: SHA-256 registered, load, and stay above measured quality floors.

A small fixed evaluation set: 16 synthetic CT cases regenerated from (seed 2, index 0..15) — the
held-out evaluation corpus, never trained on — and the 36 CT-CLIP prompts "{P} is present." /
"{P} is not present." spoken by a held-out espeak-ng voice (tests/fixtures/shipped_eval).
Text (typed prompts) and speech (spoken prompts through the shipped student) macro AUROC must stay
above floors set from the values measured when the models were shipped, minus a margin
(docs/notes/student-eval.md). Budget: < 60 s on a 2-core CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.labels import PATHOLOGIES

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
FIXTURE = REPO / "tests" / "fixtures" / "shipped_eval"
N_CASES = 16
EVAL_SEED = 2
# Measured at shipping time (see FIXTURE/measured.json); floors leave a margin for
# platform-dependent numerics, a real regression falls well below them.
FLOORS = (
    json.loads((FIXTURE / "floors.json").read_text()) if (FIXTURE / "floors.json").is_file() else {}
)


@pytest.fixture(scope="module")
def models():
    from radvoice.nn.pipeline import RadVoiceModels

    return RadVoiceModels(root=MODELS, device="cpu")


@pytest.fixture(scope="module")
def cases():
    from radvoice.data.synth import generate_case

    out = [generate_case(EVAL_SEED, i) for i in range(N_CASES)]
    return [c.volume for c in out], np.stack([np.asarray(c.labels) for c in out])


def test_shipped_files_match_the_registry() -> None:
    from radvoice.nn.registry import verify_file

    for name in ("teacher", "student", "student_nokd"):
        for f in ("config.json", "model.safetensors"):
            verify_file(MODELS / name / f, MODELS)  # raises on a missing or altered file
    card = (MODELS / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "synthetic" in card and "not for clinical use" in card


def test_altered_weights_are_refused(tmp_path: Path) -> None:
    import shutil

    from radvoice.nn.registry import ModelIntegrityError, register_files
    from radvoice.nn.speech_student import SpeechStudent

    shutil.copytree(MODELS / "student", tmp_path / "student")
    register_files(
        [tmp_path / "student" / "config.json", tmp_path / "student" / "model.safetensors"], tmp_path
    )
    SpeechStudent.load(tmp_path / "student")
    with open(tmp_path / "student" / "model.safetensors", "r+b") as fh:
        fh.seek(-8, 2)
        fh.write(b"\x00" * 8)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        SpeechStudent.load(tmp_path / "student")


def _macro_auroc(labels: np.ndarray, probs: np.ndarray) -> float:
    from radvoice.eval.metrics import classification_report

    return classification_report(labels, probs, names=list(PATHOLOGIES))["macro"]["auroc"]


def _spoken_prompts(models) -> torch.Tensor:
    from radvoice.audio import load_audio

    index = json.loads((FIXTURE / "prompts.json").read_text())
    emb = torch.zeros(len(PATHOLOGIES), 2, 512)
    for row in index:
        e = models.embed_audio(load_audio(FIXTURE / row["file"]))
        emb[PATHOLOGIES.index(row["label"]), 0 if row["polarity"] == 1 else 1] += torch.from_numpy(
            e
        )
    return torch.nn.functional.normalize(emb, dim=-1)


def test_text_and_speech_zero_shot_stay_above_floors(models, cases) -> None:
    from radvoice.nn.zeroshot import zero_shot_probabilities

    volumes, labels = cases
    ct = torch.from_numpy(np.stack([models.embed_volume(v) for v in volumes]))
    text_probs = np.array([list(models.zero_shot(e.numpy()).values()) for e in ct])
    bundle = models._teacher()
    scale = float(bundle.clip.logit_scale.detach())
    speech_probs = zero_shot_probabilities(ct, _spoken_prompts(models), scale).numpy()
    text_auc = _macro_auroc(labels, text_probs)
    speech_auc = _macro_auroc(labels, speech_probs)
    assert FLOORS, "tests/fixtures/shipped_eval/floors.json is missing"
    assert text_auc >= FLOORS["text_macro_auroc"], text_auc
    assert speech_auc >= FLOORS["speech_macro_auroc"], speech_auc


def test_spoken_prompts_match_their_pathology(models) -> None:
    from radvoice.audio import load_audio

    index = json.loads((FIXTURE / "prompts.json").read_text())
    hits = [
        models.match_query(models.embed_audio(load_audio(FIXTURE / r["file"])))[0] == r["label"]
        for r in index
    ]
    assert np.mean(hits) >= FLOORS["prompt_top1"], np.mean(hits)


def test_outputs_match_the_reference_recorded_at_shipping(models, cases) -> None:
    """Golden outputs (FIXTURE/reference.json): any change to weights, grid resampling, the
    mel front end, chunking or heads moves them. Retrain → re-record with the floors."""
    from radvoice.audio import load_audio

    ref = json.loads((FIXTURE / "reference.json").read_text())
    volumes, _ = cases
    got = {
        "ct_case0": models.embed_volume(volumes[0]),
        "text_query": models.embed_text(ref["text_query_input"]),
        "speech_prompt0": models.embed_audio(load_audio(FIXTURE / ref["speech_prompt0_file"])),
    }
    for key, vec in got.items():
        cos = float(np.dot(vec, np.asarray(ref[key], dtype=np.float32)))
        assert cos > 0.999, (key, cos)
