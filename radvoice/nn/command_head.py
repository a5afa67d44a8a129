"""The spoken-command head: which viewer command (or none) an utterance is, from encoder frames.

A small pooling head (:class:`~radvoice.nn.speech_student.PoolingHead`: projection, attention
pooling) on the same frozen Whisper encoder frames as the speech student's embedding and
question heads; its ``pool`` gives one logit per command plus one for "not a command"
(:data:`radvoice.assistant.voice_commands.NOT_A_COMMAND`). It ships beside the student in
``models/commands`` (``config.json`` + ``model.safetensors``, SHA-256 in
``models/registry.json``), pins the Whisper encoder it was trained on by SHA-256, and is
attached to a loaded student (:func:`attach_command_head`) so that it streams with it: while the
key is held each chunk's frames also go through its window stage, and key release pools them.
The student's own files and heads are untouched.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn

from radvoice.nn.registry import ModelIntegrityError
from radvoice.nn.speech_student import HeadConfig, PoolingHead
from radvoice.voice_catalog import COMMAND_OUTPUT

ARCHITECTURE = "radvoice-command-head"
COMMAND_HEAD = HeadConfig(width=96, layers=0, heads=4, queries=4, out_dim=64, dropout=0.1)
"""The command head's default shape."""
OUTPUT = COMMAND_OUTPUT
"""Its name among a streaming session's outputs (:attr:`StreamingSession.outputs`)."""


class CommandHead(PoolingHead):
    """Logits ``(B, len(classes))`` per utterance; ``classes`` are command names + "none"."""

    def __init__(self, in_dim: int, cfg: HeadConfig, classes: list[str]) -> None:
        super().__init__(in_dim, cfg)
        self.classes = list(classes)
        self.in_dim = in_dim
        self.cfg = cfg
        self.threshold: float | None = None  # chosen on the val voices at training
        self.logits = nn.Linear(cfg.out_dim, len(classes))

    def pool(self, frames: Tensor, mask: Tensor) -> Tensor:
        return self.logits(torch.nn.functional.gelu(self.pooled(frames, mask)))

    def save(self, out_dir: Path, student_dims: dict, register: bool = True) -> list[Path]:
        """``config.json`` + ``model.safetensors`` in ``out_dir`` (registered in its parent's
        ``registry.json``); ``student_dims`` pins the encoder (name, SHA-256, chunking)."""
        from radvoice.nn.registry import save_model

        dims = {
            "head": asdict(self.cfg),
            "in_dim": self.in_dim,
            "classes": self.classes,
            "encoder_name": student_dims.get("encoder_name"),
            "whisper_sha256": student_dims.get("whisper_sha256"),
            "chunking": student_dims.get("chunking"),
            "threshold": self.threshold,
        }
        tensors = {k: v.detach().cpu().float() for k, v in self.state_dict().items()}
        return save_model(Path(out_dir), tensors, {"architecture": ARCHITECTURE}, dims, register)

    @classmethod
    def load(cls, model_dir: Path, verify: bool = True) -> tuple[CommandHead, dict]:
        """The head and its dims, SHA-256 checked against the registry."""
        from radvoice.nn.registry import load_model

        tensors, config, dims = load_model(Path(model_dir), verify=verify)
        if config.get("architecture") != ARCHITECTURE:
            raise ModelIntegrityError(f"{model_dir} is not a command head")
        try:
            head = cls(int(dims["in_dim"]), HeadConfig(**dims["head"]), list(dims["classes"]))
            head.load_state_dict(tensors)
            head.threshold = dims.get("threshold")
        except (KeyError, TypeError, RuntimeError) as err:
            first = str(err).splitlines()[0]
            raise ModelIntegrityError(
                f"{model_dir}: weights do not match the config ({first})"
            ) from None
        return head.eval(), dims


def student_dims(student) -> dict:
    """What a command head pins of the student it runs beside (encoder and chunking)."""
    from radvoice.nn.student_files import WHISPER_KEY

    cfg = student.config.to_dict()
    sha = getattr(student, "whisper_sha256", None)
    return {
        "encoder_name": cfg["encoder_name"],
        "whisper_sha256": sha,
        "chunking": cfg["chunking"],
        WHISPER_KEY: cfg["encoder_name"],
    }


def attach_command_head(student, model_dir: Path, verify: bool = True) -> CommandHead:
    """Load ``model_dir``'s command head and attach it to ``student`` (it then streams with it);
    refused when it was trained on another encoder or chunking."""
    head, dims = CommandHead.load(model_dir, verify)
    mine = student_dims(student)
    pinned = dims.get("whisper_sha256")
    if dims.get("chunking") != mine["chunking"] or dims.get("encoder_name") != mine["encoder_name"]:
        raise ModelIntegrityError(
            f"command head {model_dir} was trained on another encoder or chunking"
        )
    if pinned and mine["whisper_sha256"] and pinned != mine["whisper_sha256"]:
        raise ModelIntegrityError(
            f"command head {model_dir} was trained on other Whisper weights "
            f"({pinned[:12]}…, the student runs {mine['whisper_sha256'][:12]}…)"
        )
    device = student.encoder.conv1.weight.device
    student.attached_heads[OUTPUT] = head.to(device).eval()
    return head
