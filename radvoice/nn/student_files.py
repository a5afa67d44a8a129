"""Speech-student checkpoints that reference the Whisper encoder instead of copying it.

A referencing checkpoint's ``model.safetensors`` holds the head (``head.*``) and only those
encoder tensors whose values differ from the base encoder (the fine-tuned top
``train_top_layers`` blocks and ``ln_post``). Its ``config.json`` and safetensors ``dims``
metadata name the base (``whisper``: a folder name such as ``whisper-tiny.en``) and pin its
weights (``whisper_sha256``: SHA-256 of ``<folder>/model.safetensors``). At load the folder is
looked for beside the student folder, then in :func:`~radvoice.nn.registry.models_dir`; the first
whose SHA-256 matches is loaded (registry-checked as any model). A checkpoint without
``whisper`` carries the full encoder (the original format) and loads as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from radvoice.nn.registry import (
    WEIGHTS_NAME,
    ModelIntegrityError,
    load_model,
    models_dir,
    sha256_file,
)
from radvoice.nn.whisper.model import AudioEncoder, WhisperDims, load_encoder

WHISPER_KEY = "whisper"
SHA_KEY = "whisper_sha256"
ENCODER_PREFIX = "encoder."
EncoderMode = Literal["auto", "reference", "full"]


@dataclass(frozen=True)
class EncoderRef:
    """The base Whisper encoder a checkpoint points at."""

    name: str
    sha256: str
    folder: Path

    def to_dict(self) -> dict[str, str]:
        return {WHISPER_KEY: self.name, SHA_KEY: self.sha256}


def candidate_folders(name: str, student_dir: Path) -> list[Path]:
    """Where encoder ``name`` is looked for: beside the student folder, then ``models_dir()``."""
    out: list[Path] = []
    for root in (Path(student_dir).parent, models_dir()):
        folder = root / name
        if all(folder.resolve() != f.resolve() for f in out):
            out.append(folder)
    return out


def trainable_encoder_prefixes(n_layers: int, train_top_layers: int) -> tuple[str, ...]:
    """State-dict prefixes of the encoder parts a student may fine-tune."""
    if not train_top_layers:
        return ()
    blocks = tuple(
        f"{ENCODER_PREFIX}blocks.{i}." for i in range(n_layers - train_top_layers, n_layers)
    )
    return (*blocks, f"{ENCODER_PREFIX}ln_post.")


def _valid_name(name: str) -> bool:
    return bool(name) and name not in (".", "..", "random") and "/" not in name and "\\" not in name


def _base_tensors(folder: Path, dims: WhisperDims) -> dict[str, Tensor]:
    """The base encoder's tensors (registry-checked) if its dims are ``dims``."""
    tensors, _config, base_dims = load_model(folder, verify=True)
    if WhisperDims.from_dict(base_dims) != dims:
        raise ModelIntegrityError(f"{folder}: encoder dims differ from the student's")
    return tensors


def pack_state(
    state: dict[str, Tensor],
    dims: WhisperDims,
    train_top_layers: int,
    name: str,
    out_dir: Path,
    mode: EncoderMode = "auto",
) -> tuple[dict[str, Tensor], EncoderRef | None]:
    """Tensors to write for a student saved to ``out_dir``, and the encoder they reference.

    ``reference``: head + encoder tensors differing from the base found by
    :func:`candidate_folders` (error if none fits); ``full``: everything, no reference;
    ``auto``: ``reference`` when a registered base with equal frozen weights is found, else full.
    """
    if mode not in ("auto", "reference", "full"):
        raise ValueError(f"unknown encoder mode {mode!r}")
    if mode == "full":
        return dict(state), None
    reasons: list[str] = []
    folders = candidate_folders(name, out_dir) if _valid_name(name) else []
    if not folders:
        reasons.append(f"encoder name {name!r} names no model folder")
    allowed = trainable_encoder_prefixes(dims.n_audio_layer, train_top_layers)
    for folder in folders:
        if not (folder / WEIGHTS_NAME).is_file():
            reasons.append(f"{folder} not found")
            continue
        try:
            base = _base_tensors(folder, dims)
        except ModelIntegrityError as err:
            reasons.append(str(err))
            continue
        packed, frozen_diff = _diff(state, base)
        bad = [k for k in frozen_diff if not k.startswith(allowed)]
        if bad:
            reasons.append(f"{folder}: frozen encoder tensors differ ({bad[0]}, …)")
            continue
        return packed, EncoderRef(name, sha256_file(folder / WEIGHTS_NAME), folder)
    if mode == "reference":
        raise ModelIntegrityError(
            f"cannot save {out_dir} referencing its Whisper encoder: {'; '.join(reasons)}"
        )
    return dict(state), None


def _diff(state: dict[str, Tensor], base: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    """Head tensors + encoder tensors unequal to (or missing from) ``base``; the latter's names."""
    packed: dict[str, Tensor] = {}
    changed: list[str] = []
    for key, value in state.items():
        if not key.startswith(ENCODER_PREFIX):
            packed[key] = value
            continue
        ref = base.get(key[len(ENCODER_PREFIX) :])
        same = ref is not None and ref.shape == value.shape
        if same and not torch.equal(value.detach().cpu().float(), ref.float()):
            same = False
        if not same:
            packed[key] = value
            changed.append(key)
    return packed, changed


def resolve_encoder(name: str, sha256: str, student_dir: Path) -> Path:
    """The folder of encoder ``name`` whose weights have SHA-256 ``sha256`` (or a clear error)."""
    seen: list[str] = []
    for folder in candidate_folders(name, student_dir):
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            continue
        actual = sha256_file(weights)
        if actual == sha256:
            return folder
        seen.append(f"{weights} has SHA-256 {actual[:12]}…")
    if not seen:
        where = ", ".join(str(f) for f in candidate_folders(name, student_dir))
        raise ModelIntegrityError(
            f"{student_dir}: needs the Whisper encoder {name!r}, not found (looked in {where})"
        )
    raise ModelIntegrityError(
        f"{student_dir}: built on {name} with SHA-256 {sha256[:12]}…, but {'; '.join(seen)}; "
        "the encoder weights were replaced"
    )


def load_referenced_encoder(dims: dict, student_dir: Path, verify: bool = True) -> AudioEncoder:
    """The base encoder named in a referencing checkpoint's ``dims`` (SHA-256 pinned)."""
    name, sha = dims.get(WHISPER_KEY), dims.get(SHA_KEY)
    if not isinstance(name, str) or not _valid_name(name):
        raise ModelIntegrityError(f"{student_dir}: malformed encoder name {name!r}")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ModelIntegrityError(f"{student_dir}: missing or malformed {SHA_KEY}")
    folder = resolve_encoder(name, sha, student_dir)
    return load_encoder(folder, verify=verify)
