"""The text teacher: offline MiniLM, sentence-transformers pooling, trainable layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from radvoice.nn.text_encoder import (
    MINILM_SHA256,
    TextTeacher,
    TextTeacherDims,
    mean_pool,
    minilm_path,
    verify_minilm,
)


@pytest.fixture(scope="module")
def teacher() -> TextTeacher:
    return TextTeacher(TextTeacherDims(n_trainable_layers=0))


def test_pooling_matches_sentence_transformers(teacher: TextTeacher) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["Cardiomegaly is present.", "There is no pleural effusion in either hemithorax."]
    ours = F.normalize(teacher.backbone_features(texts), dim=-1)
    st = SentenceTransformer(str(minilm_path()), device="cpu")
    ref = st.encode(texts, convert_to_tensor=True)
    assert torch.allclose(ours, ref.cpu(), atol=1e-5)


def test_mean_pool_ignores_padding() -> None:
    states = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(states, mask), torch.tensor([[2.0, 2.0]]))


def test_embeddings_are_normalised_and_frozen_by_default(teacher: TextTeacher) -> None:
    emb = teacher(["Lung nodule is present."])
    assert emb.shape == (1, 512)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(1), atol=1e-5)
    assert not any(p.requires_grad for p in teacher.backbone.parameters())
    assert all(p.requires_grad for p in teacher.projection.parameters())
    assert set(teacher.trainable_state_dict()) == {"projection.net.weight", "projection.net.bias"}


def test_top_layers_can_be_fine_tuned(teacher: TextTeacher) -> None:
    tuned = TextTeacher(TextTeacherDims(n_trainable_layers=2))
    layers = tuned.backbone.encoder.layer
    assert not any(p.requires_grad for p in layers[3].parameters())
    assert all(p.requires_grad for p in layers[4].parameters())
    assert all(p.requires_grad for p in layers[5].parameters())
    feats = tuned.backbone_features(["Emphysema is present."])
    feats.sum().backward()
    assert layers[5].attention.self.query.weight.grad is not None
    # the copy is private: the module-level teacher is unchanged
    assert not any(p.requires_grad for p in teacher.backbone.parameters())
    assert any(k.startswith("backbone.encoder.layer.5.") for k in tuned.trainable_state_dict())
    with pytest.raises(ValueError):
        tuned.set_trainable_layers(7)


def test_long_reports_are_read_whole_in_chunks(teacher: TextTeacher) -> None:
    sentences = [
        f"Finding number {i} is described in the {i}th segment of the lung." for i in range(40)
    ]
    report = " ".join(sentences)
    chunks = teacher.chunk(report)
    assert len(chunks) > 2
    assert " ".join(chunks) == report
    assert all(len(teacher.tokenizer.tokenize(c)) <= teacher.dims.chunk_tokens for c in chunks)
    # the report's feature is the token-weighted mean of its chunks' features
    per_chunk = teacher.backbone_features(chunks)
    counts = torch.tensor(
        [len(teacher.tokenizer(c)["input_ids"]) for c in chunks], dtype=torch.float32
    )
    expected = (per_chunk * counts[:, None]).sum(0) / counts.sum()
    assert torch.allclose(teacher.backbone_features([report])[0], expected, atol=1e-5)
    # the last sentence matters (it would be cut off by plain truncation at 256 tokens)
    other = " ".join([*sentences[:-1], "Massive pleural effusion on the left."])
    assert not torch.allclose(
        teacher.backbone_features([report]), teacher.backbone_features([other])
    )


def test_minilm_files_are_sha_pinned(tmp_path):
    import shutil

    from radvoice.nn.registry import ModelIntegrityError

    src = minilm_path()  # the installed package verifies
    small = {k: v for k, v in MINILM_SHA256.items() if k != "model.safetensors"}
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
        for name in small:
            shutil.copy(src / name, folder / name)
    verify_minilm(good, small)
    with (bad / "vocab.txt").open("a", encoding="utf-8") as fh:
        fh.write("tampered\n")
    with pytest.raises(ModelIntegrityError, match=r"vocab\.txt: SHA-256"):
        verify_minilm(bad, small)
    (bad / "config.json").unlink()
    with pytest.raises(ModelIntegrityError, match=r"config\.json missing"):
        verify_minilm(bad, {"config.json": MINILM_SHA256["config.json"]})
