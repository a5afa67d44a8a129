"""CTranslate2 → torch Whisper converter: our encoder equals ctranslate2's on the same features."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from radvoice.audio.mel import log_mel_spectrogram
from radvoice.cli.main import main
from radvoice.nn.registry import ModelIntegrityError
from radvoice.nn.whisper.convert import (
    CT2FormatError,
    encoder_dims,
    encoder_from_ct2,
    model_bin_parts,
    package_model_dir,
    package_model_files,
    read_ct2_model,
)
from radvoice.nn.whisper.ct2_runtime import load_ct2_whisper
from radvoice.nn.whisper.equivalence import (
    compare_outputs,
    compare_with_ctranslate2,
    ct2_encode,
    synthetic_speechlike,
)
from radvoice.nn.whisper.model import WhisperDims, load_encoder

REPO = Path(__file__).resolve().parents[1]
MIN_COSINE = 0.999
MAX_REL_DIFF = 0.01  # max |ours - ct2| / max |ct2| (float32 accumulation order only)


@pytest.fixture(scope="module")
def tiny_ct2():
    return load_ct2_whisper("tiny.en", compute_type="float32", threads=1)


@pytest.fixture(scope="module")
def tiny_torch():
    return encoder_from_ct2(package_model_files("tiny.en"))


@pytest.fixture(scope="module")
def mel_5s() -> np.ndarray:
    return log_mel_spectrogram(synthetic_speechlike(5.0, seed=1))[None].numpy()


def _assert_equivalent(report) -> None:
    assert report.min_cosine >= MIN_COSINE, report
    assert report.max_abs_diff <= MAX_REL_DIFF * report.max_abs_value, report


def test_reads_tiny_en_encoder_variables() -> None:
    model = read_ct2_model(package_model_files("tiny.en"), prefix="encoder/")
    assert model.spec == "WhisperSpec"
    assert not any(k.startswith("decoder/") for k in model.variables)
    assert encoder_dims(model.variables) == WhisperDims(80, 1500, 384, 6, 4)
    assert model.variables["encoder/layer_0/self_attention/linear_0/weight"].shape == (1152, 384)


def test_tiny_en_matches_ctranslate2_on_variable_length(tiny_ct2, tiny_torch, mel_5s) -> None:
    report = compare_with_ctranslate2(tiny_ct2, tiny_torch, mel_5s)
    assert ct2_encode(tiny_ct2, mel_5s).shape == (1, 250, 384)
    _assert_equivalent(report)


def test_tiny_en_matches_ctranslate2_padded_to_30s(tiny_ct2, tiny_torch) -> None:
    mel = log_mel_spectrogram(synthetic_speechlike(6.0, seed=2), padding=480_000)[None, :, :3000]
    _assert_equivalent(compare_with_ctranslate2(tiny_ct2, tiny_torch, mel.numpy()))


def test_comparison_detects_a_wrong_weight(tiny_ct2, mel_5s) -> None:
    broken = encoder_from_ct2(package_model_files("tiny.en"))
    with torch.no_grad():
        broken.blocks[2].attn.value.weight.mul_(1.05)
    report = compare_with_ctranslate2(tiny_ct2, broken, mel_5s)
    with pytest.raises(AssertionError):
        _assert_equivalent(report)


def test_shipped_tiny_en_fp16_weights_match_ctranslate2(tiny_ct2, mel_5s) -> None:
    encoder = load_encoder(REPO / "models" / "whisper-tiny.en")  # SHA-256 checked
    assert encoder.dims == WhisperDims(80, 1500, 384, 6, 4)
    _assert_equivalent(compare_with_ctranslate2(tiny_ct2, encoder, mel_5s))
    assert "Copyright (c) 2022 OpenAI" in (REPO / "models/whisper/LICENSE-whisper").read_text()


def _set_spec_variable(spec, name: str, value: np.ndarray) -> None:
    obj = spec
    *scopes, attr = name.split("/")
    for scope in scopes:
        m = re.fullmatch(r"(.+)_(\d+)", scope)
        if m and isinstance(getattr(obj, m.group(1), None), list):
            obj = getattr(obj, m.group(1))[int(m.group(2))]
        else:
            obj = getattr(obj, scope)
    if value.ndim == 0 or isinstance(getattr(obj, attr), np.generic):
        return  # scalars (num_heads, activation…) are set by the spec itself
    setattr(obj, attr, value.astype(np.float32))


def test_int8_model_split_in_parts_matches_ctranslate2(tmp_path, tiny_torch, mel_5s) -> None:
    """ctranslate2's own serializer writes an int8 model; we read it split in two parts."""
    from ctranslate2.specs import whisper_spec

    src = read_ct2_model(package_model_files("tiny.en"))
    spec = whisper_spec.WhisperSpec(4, 6, 4, 6)
    for name, value in src.variables.items():
        _set_spec_variable(spec, name, value)
    vocab = (package_model_dir("tiny.en") / "vocabulary.txt").read_text(encoding="utf-8")
    spec.register_vocabulary(vocab.split("\n")[: spec.get_vocabulary_size()])
    spec.validate()
    spec.optimize(quantization="int8")
    spec.save(str(tmp_path))
    shutil.copy(package_model_dir("tiny.en") / "config.json", tmp_path / "config.json")
    blob = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "model.bin").unlink()
    (tmp_path / "model.bin.part1").write_bytes(blob[: len(blob) // 3])
    (tmp_path / "model.bin.part2").write_bytes(blob[len(blob) // 3 :])

    parts = model_bin_parts(tmp_path)
    assert [p.name for p in parts] == ["model.bin.part1", "model.bin.part2"]
    variables = read_ct2_model(parts, prefix="encoder/").variables
    assert variables["encoder/layer_0/ffn/linear_0/weight"].dtype == np.int8
    int8_encoder = encoder_from_ct2(parts)

    ct2 = load_ct2_whisper(ct2_dir=tmp_path, compute_type="float32", threads=1)
    ours = compare_with_ctranslate2(ct2, int8_encoder, mel_5s)
    float_weights = compare_with_ctranslate2(ct2, tiny_torch, mel_5s)
    _assert_equivalent(ours)
    # the de-quantised weights, not the original float ones, are what ctranslate2 computes with
    assert ours.max_abs_diff < float_weights.max_abs_diff / 5


def test_malformed_model_bin_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"\x07\x00\x00\x00garbage")
    with pytest.raises(CT2FormatError, match="version 7"):
        read_ct2_model([bad])
    good = package_model_files("tiny.en")[0].read_bytes()[:100_000]
    bad.write_bytes(good)
    with pytest.raises(CT2FormatError, match="ends early"):
        read_ct2_model([bad])
    with pytest.raises(CT2FormatError, match=r"no model\.bin"):
        model_bin_parts(tmp_path / "nothing-here")


def test_cli_convert_writes_registered_fp16_weights(tmp_path, monkeypatch, capsys) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("RADVOICE_MODELS", str(models))
    assert main(["whisper", "convert", "--size", "tiny.en", "--out", str(models / "w")]) == 0
    registry = (models / "registry.json").read_text()
    assert "w/model.safetensors" in registry and "w/config.json" in registry
    assert "MIT License" in (models / "whisper" / "LICENSE-whisper").read_text()
    encoder = load_encoder(models / "w")
    assert encoder.dims.n_audio_layer == 4
    from safetensors import safe_open

    with safe_open(str(models / "w" / "model.safetensors"), framework="pt") as fh:
        assert fh.get_tensor("conv1.weight").dtype == torch.float16
        assert "dims" in fh.metadata()
    with open(models / "w" / "model.safetensors", "r+b") as fh:  # tamper: SHA-256 must catch it
        fh.seek(-8, 2)
        fh.write(b"\x00" * 8)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load_encoder(models / "w")

    assert main(["whisper", "convert", "--ct2-dir", str(tmp_path / "empty")]) == 2
    assert "no model.bin" in capsys.readouterr().err


@pytest.mark.slow
def test_base_parts_match_ctranslate2(mel_5s) -> None:
    files = package_model_files("base")
    assert [f.name for f in files] == ["model.bin.part1", "model.bin.part2"]
    ct2 = load_ct2_whisper("base", compute_type="float32", threads=1)
    converted = encoder_from_ct2(files)
    assert converted.dims == WhisperDims(80, 1500, 512, 8, 6)
    _assert_equivalent(compare_with_ctranslate2(ct2, converted, mel_5s))
    shipped = REPO / "models" / "whisper-base"
    if shipped.is_dir():
        _assert_equivalent(compare_with_ctranslate2(ct2, load_encoder(shipped), mel_5s))


def test_compare_outputs_reports_cosine() -> None:
    a = np.ones((3, 4), np.float32)
    rep = compare_outputs(a, -a)
    assert rep.min_cosine == pytest.approx(-1.0) and rep.max_abs_diff == pytest.approx(2.0)
