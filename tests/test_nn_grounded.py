"""The grounded CT encoder: windows, dense heads, pooling, losses, a short run and its export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.nn.grid import ModelGrid
from radvoice.nn.grounded import GroundedCTEncoder, GroundedDims
from radvoice.training.grounded_losses import create_loss

TINY = GroundedDims(widths=[8, 16], depths=[1, 1], stem_stride=[2, 4, 4], decoder_width=8,
                    groups=4, embed_dim=32)  # fmt: skip


def _norm_hu(hu: torch.Tensor, lo=-1024.0, hi=3071.0) -> torch.Tensor:
    return (hu - lo) / (hi - lo) * 2 - 1


def test_window_channels_keep_metal_and_emphysema_apart():
    enc = GroundedCTEncoder(TINY)
    hu = torch.tensor([-980.0, -850.0, 40.0, 400.0, 2500.0]).view(1, 1, 5, 1, 1)
    ch = enc.window_channels(_norm_hu(hu))[0, :, :, 0, 0]  # (windows, 5)
    lung, soft, bone, metal = ch[1], ch[2], ch[3], ch[4]
    assert lung[0] < lung[1]  # emphysema darker than normal lung in the lung window
    assert metal[4] > -1 and (metal[:4] == -1).all()  # only metal lights the metal window
    assert bone[3] > -1 and bone[2] == -1 and soft[2] > -1


def test_shapes_and_pooling_between_mean_and_max():
    enc = GroundedCTEncoder(TINY).eval()
    x = torch.rand(2, 1, 16, 32, 32) * 2 - 1
    out = enc.analyse(x)
    assert out.embedding.shape == (2, 32)
    assert out.logits.shape == (2, 18)
    assert out.dense.shape == (2, 18, 8, 8, 8)
    flat = out.dense.flatten(2)
    assert (out.logits <= flat.amax(2) + 1e-5).all()
    assert (out.logits >= flat.mean(2) - 1e-5).all()
    assert enc.dense_probabilities(x).shape == (2, 18, 8, 8, 8)
    assert torch.equal(enc(x), out.embedding)


def test_losses_learn_where_a_finding_is():
    torch.manual_seed(0)
    enc = GroundedCTEncoder(TINY)
    x = torch.full((4, 1, 16, 32, 32), -0.4)
    masks = torch.zeros(4, 18, 8, 8, 8)
    labels = torch.zeros(4, 18)
    for b in (0, 1):  # a bright blob in two cases, at different places
        z, y = (2, 3) if b == 0 else (5, 5)
        x[b, 0, 2 * z : 2 * z + 2, 4 * y : 4 * y + 4, 8:12] = 0.3
        masks[b, 3, z, y, 2] = 1.0
        labels[b, 3] = 1
    known = torch.ones(4, 18, dtype=torch.bool)
    text = torch.nn.functional.normalize(torch.randn(4, 32), dim=-1)
    prompts = torch.nn.functional.normalize(torch.randn(18, 2, 32), dim=-1)
    loss = create_loss()
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    first = None
    for _ in range(200):
        parts = loss(enc.analyse(x), masks, labels, known, text, prompts, torch.tensor(10.0))
        first = first or {k: float(v.detach()) for k, v in parts.items()}
        opt.zero_grad()
        parts["loss"].backward()
        opt.step()
    assert float(parts["dice"]) < first["dice"] and float(parts["loss"]) < first["loss"]
    enc.eval()
    with torch.no_grad():
        p = enc.dense_probabilities(x)[:, 3]
        pooled = torch.sigmoid(enc.analyse(x).logits[:, 3])
    assert pooled[:2].min() > pooled[2:].max()  # the two cases with the finding rank first
    assert tuple(np.unravel_index(int(p[0].argmax()), p[0].shape)) == (2, 3, 2)
    assert tuple(np.unravel_index(int(p[1].argmax()), p[1].shape)) == (5, 5, 2)


def test_unknown_labels_take_no_part():
    enc = GroundedCTEncoder(TINY)
    out = enc.analyse(torch.rand(2, 1, 16, 32, 32))
    labels = torch.ones(2, 18)
    text = torch.nn.functional.normalize(torch.randn(2, 32), dim=-1)
    prompts = torch.nn.functional.normalize(torch.randn(18, 2, 32), dim=-1)
    masks = torch.zeros(2, 18, 8, 8, 8)
    none_known = torch.zeros(2, 18, dtype=torch.bool)
    parts = create_loss()(out, masks, labels, none_known, text, prompts, torch.tensor(10.0))
    for k in ("dense", "dice", "label", "zeroshot", "agreement"):
        assert float(parts[k]) == 0.0


@pytest.mark.slow
def test_short_run_resumes_and_exports_a_teacher(tmp_path, repo_models):
    """Generate 6 cases, train 4 steps, resume to 6, export next to the shipped students: the
    student loads beside it (same text space) and the heat map comes from the dense head."""
    from radvoice.imaging.volume import Volume
    from radvoice.nn.pipeline import RadVoiceModels
    from radvoice.training.export import publish_model
    from radvoice.training.grounded import GroundedRun
    from radvoice.training.grounded_data import CaseMix, prefill
    from radvoice.training.grounded_export import export_grounded
    from radvoice.training.grounded_train import train

    run = GroundedRun(model=GroundedDims(widths=[8, 16, 16, 32], depths=[1, 1, 1, 1],
                                         decoder_width=8, groups=4))  # fmt: skip
    run.model.hu_range = [run.grid.hu_min, run.grid.hu_max]
    run.batch_size, run.max_steps, run.eval_every, run.warmup_steps = 2, 4, 4, 2
    run.val_fraction = 0.34
    data = tmp_path / "data"
    assert prefill(data, 6, run.grid, tuple(run.model.stem_stride), CaseMix(), workers=1) == 6
    out = tmp_path / "run"
    train(run, data, out, repo_models / "teacher")
    run.max_steps = 6
    train(run, data, out, repo_models / "teacher")
    log = (out / "eval.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in log] == [4, 6]
    state = torch.load(out / "state.pt", weights_only=True)
    assert int(state["step"]) == 6
    export_grounded(out / "state.pt", run, data, repo_models / "teacher", tmp_path / "x" / "t",
                    n_domain_train=4)  # fmt: skip
    root = tmp_path / "models"
    import shutil

    shutil.copytree(repo_models, root, ignore=shutil.ignore_patterns("teacher"))
    publish_model(tmp_path / "x" / "t", root / "teacher")
    models = RadVoiceModels(root=root)
    vol = Volume(array=np.full((40, 64, 64), -1000, np.int16), spacing=(2.0, 2.0, 4.0),
                 origin=(0.0, 0.0, 0.0), direction=np.eye(3))  # fmt: skip
    assert models.embed_volume(vol).shape == (512,)
    hm = models.heatmap(vol, "Pleural effusion")
    assert hm.shape == vol.array.shape and hm.dtype == np.float32 and 0 <= hm.min() <= hm.max() <= 1
    assert models.embed_audio(np.zeros(16000, np.float32)).shape == (512,)  # text space shared
    assert models._teacher().domain is not None


def test_a_changed_text_space_is_refused(tmp_path, repo_models):
    from safetensors.torch import load_file, save_file

    from radvoice.nn.registry import CONFIG_NAME, WEIGHTS_NAME
    from radvoice.nn.speech_student import _shares_text_space, teacher_weights_sha256

    pinned = teacher_weights_sha256(repo_models / "teacher")
    t = load_file(str(repo_models / "teacher" / WEIGHTS_NAME))
    from radvoice.nn.clip import text_space_sha256

    cfg = {"text_space": {"sha256": text_space_sha256(t), "same_as_teacher_sha256": [pinned]}}
    d = tmp_path / "t"
    d.mkdir()
    save_file(t, str(d / WEIGHTS_NAME))
    (d / CONFIG_NAME).write_text(json.dumps(cfg))
    assert _shares_text_space(d, pinned)
    assert not _shares_text_space(d, "0" * 64)  # another teacher's students
    t["zeroshot.prompts"] = t["zeroshot.prompts"] + 1e-3  # the prompts moved: another space
    save_file(t, str(d / WEIGHTS_NAME))
    assert not _shares_text_space(d, pinned)


@pytest.fixture
def repo_models() -> Path:
    return Path(__file__).resolve().parents[1] / "models"


def test_grid_of_the_config_keeps_the_full_hu_range():
    from radvoice.training.grounded import GroundedRun

    run = GroundedRun.from_json(Path(__file__).resolve().parents[1] / "radvoice/configs/ct_grounded.json")
    assert run.grid == ModelGrid(hu_min=-1024.0, hu_max=3071.0)
    assert run.model.hu_range == [-1024.0, 3071.0]
