"""The speech student: a chunked Whisper encoder plus a trainable head into the 512-d shared space.

``SpeechStudent`` = :class:`~radvoice.nn.whisper.model.AudioEncoder` (frozen, or its top
``train_top_layers`` blocks trainable) → :class:`PoolingHead` (projection and small transformer
layers per chunk window, then multi-query attention pooling over the whole utterance) →
L2-normalised ``out_dim`` vector. Everything but the pooling runs per window, so while the user
talks each completed chunk is fully processed and key release costs one window plus the pooling.
A student with ``members > 1`` carries a :class:`HeadEnsemble`: heads trained separately (other
seeds) on the same frozen encoder, averaged (:func:`ensemble_students`); the encoder runs once
for all of them.

Audio always goes through the chunked windows of :mod:`radvoice.nn.streaming`, in training
(:meth:`SpeechStudent.forward` on :meth:`SpeechStudent.features`) exactly as at run time
(:meth:`SpeechStudent.stream`). Checkpoints are ``config.json`` + ``model.safetensors`` with the
full config (encoder dims, head, chunking) also in the safetensors metadata; the frozen Whisper
encoder is referenced by name + SHA-256 rather than copied (:mod:`radvoice.nn.student_files`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from radvoice.nn.streaming import (
    ChunkingConfig,
    MelFn,
    StreamingSession,
    WindowFeatures,
    encode_utterances,
    pad_frames,
    utterance_features,
)
from radvoice.nn.student_files import (
    ENCODER_PREFIX,
    WHISPER_KEY,
    EncoderMode,
    load_referenced_encoder,
    pack_state,
)
from radvoice.nn.whisper.model import AudioEncoder, WhisperDims, WhisperModelError, load_encoder


@dataclass(frozen=True)
class HeadConfig:
    """Head shape: width, transformer layers (0 = pooling only), heads, pooling queries, output."""

    width: int = 256
    layers: int = 1
    heads: int = 4
    queries: int = 4
    out_dim: int = 512
    dropout: float = 0.1


@dataclass(frozen=True)
class StudentConfig:
    """Everything needed to rebuild a student (saved inside its checkpoint)."""

    encoder: WhisperDims = field(default_factory=WhisperDims)
    head: HeadConfig = field(default_factory=HeadConfig)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    train_top_layers: int = 0
    encoder_name: str = "whisper-tiny.en"
    members: int = 1  # heads averaged (an ensemble of seeds on one frozen encoder)
    question: HeadConfig | None = None  # the question-vs-statement head, when trained

    def __post_init__(self) -> None:
        if not 0 <= self.train_top_layers <= self.encoder.n_audio_layer:
            raise WhisperModelError(
                f"train_top_layers={self.train_top_layers} outside 0..{self.encoder.n_audio_layer}"
            )
        if self.members < 1 or (self.members > 1 and self.train_top_layers):
            raise WhisperModelError(
                f"members={self.members}: an ensemble needs at least one head and a frozen "
                "encoder shared by all (train_top_layers = 0)"
            )

    def to_dict(self) -> dict:
        return {
            "encoder": self.encoder.to_dict(),
            "head": asdict(self.head),
            "chunking": self.chunking.to_dict(),
            "train_top_layers": self.train_top_layers,
            "encoder_name": self.encoder_name,
            "members": self.members,
            "question": asdict(self.question) if self.question is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict) -> StudentConfig:
        try:
            return cls(
                encoder=WhisperDims.from_dict(data["encoder"]),
                head=HeadConfig(**data.get("head", {})),
                chunking=ChunkingConfig.from_dict(data.get("chunking", {})),
                train_top_layers=int(data.get("train_top_layers", 0)),
                encoder_name=str(data.get("encoder_name", "")),
                members=int(data.get("members", 1)),
                question=HeadConfig(**data["question"]) if data.get("question") else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise WhisperModelError(f"invalid speech student config: {err}") from None


class PoolingHead(nn.Module):
    """Per-window layers (chunk-local, run while talking) then global attention pooling.

    :meth:`window` maps one window's encoder frames ``(N, k, C)`` (+ mask) to ``(N, k, width)``:
    a projection and ``layers`` small transformer layers attending within the chunk.
    :meth:`pool` maps all frames of an utterance ``(B, T, width)`` (+ mask) to the
    L2-normalised ``(B, out_dim)`` embedding with ``queries`` learned attention queries.
    """

    def __init__(self, in_dim: int, cfg: HeadConfig) -> None:
        super().__init__()
        self.in_norm = nn.LayerNorm(in_dim)
        self.in_proj = nn.Linear(in_dim, cfg.width)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                cfg.width,
                cfg.heads,
                4 * cfg.width,
                cfg.dropout,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(cfg.layers)
        )
        self.queries = nn.Parameter(torch.randn(cfg.queries, cfg.width) * cfg.width**-0.5)
        self.pool_attn = nn.MultiheadAttention(
            cfg.width, cfg.heads, dropout=cfg.dropout, batch_first=True
        )
        self.out_norm = nn.LayerNorm(cfg.queries * cfg.width)
        self.out_proj = nn.Linear(cfg.queries * cfg.width, cfg.out_dim)

    def window(self, frames: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.in_proj(self.in_norm(frames))
        pad = None if mask is None else ~mask
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        return x

    def pooled(self, frames: Tensor, mask: Tensor) -> Tensor:
        """The attention-pooled ``(B, out_dim)`` vector before normalisation."""
        q = self.queries[None].expand(frames.shape[0], -1, -1)
        pooled, _ = self.pool_attn(q, frames, frames, key_padding_mask=~mask, need_weights=False)
        return self.out_proj(self.out_norm(pooled.flatten(1)))

    def pool(self, frames: Tensor, mask: Tensor) -> Tensor:
        return F.normalize(self.pooled(frames, mask), dim=-1)

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        """Both stages on one sequence (no chunking: a single window per row)."""
        return self.pool(self.window(frames, mask), mask)


class QuestionHead(PoolingHead):
    """Is the utterance a question (rather than a finding or report)? One logit per utterance,
    from the same encoder frames as the embedding: interrogative words and intonation, which
    the shared CT-text space is trained to ignore."""

    def __init__(self, in_dim: int, cfg: HeadConfig) -> None:
        super().__init__(in_dim, cfg)
        self.logit = nn.Linear(cfg.out_dim, 1)

    def pool(self, frames: Tensor, mask: Tensor) -> Tensor:
        return self.logit(self.pooled(frames, mask)).squeeze(-1)


QUESTION_HEAD = HeadConfig(width=64, layers=0, heads=4, queries=2, out_dim=8, dropout=0.1)
"""The question head's default shape (trained by :mod:`radvoice.training.question_head`)."""


class HeadEnsemble(nn.Module):
    """``members`` pooling heads of one shape, trained separately, used as one head.

    :meth:`window` concatenates the members' window outputs along the channels, so a streaming
    session keeps one tensor per window; :meth:`pool` splits them again, pools each member and
    returns the L2-normalised mean of the members' embeddings.
    """

    def __init__(self, in_dim: int, cfg: HeadConfig, members: int) -> None:
        super().__init__()
        self.width = cfg.width
        self.members = nn.ModuleList(PoolingHead(in_dim, cfg) for _ in range(members))

    def window(self, frames: Tensor, mask: Tensor | None = None) -> Tensor:
        return torch.cat([m.window(frames, mask) for m in self.members], dim=-1)

    def pool(self, frames: Tensor, mask: Tensor) -> Tensor:
        parts = frames.split(self.width, dim=-1)
        pooled = [m.pool(x, mask) for m, x in zip(self.members, parts, strict=True)]
        return F.normalize(torch.stack(pooled).mean(0), dim=-1)

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        return self.pool(self.window(frames, mask), mask)


class SpeechStudent(nn.Module):
    """Chunked Whisper encoder + pooling head. See the module docstring."""

    def __init__(self, config: StudentConfig, encoder: AudioEncoder | None = None) -> None:
        super().__init__()
        self.config = config
        if encoder is not None and encoder.dims != config.encoder:
            raise WhisperModelError(
                f"encoder dims {encoder.dims} differ from config {config.encoder}"
            )
        self.encoder = encoder if encoder is not None else AudioEncoder(config.encoder)
        width = config.encoder.n_audio_state
        self.head: PoolingHead | HeadEnsemble = (
            PoolingHead(width, config.head)
            if config.members == 1
            else HeadEnsemble(width, config.head, config.members)
        )
        self.question = QuestionHead(width, config.question) if config.question else None
        self.mel_fn: MelFn | None = None  # None: radvoice.audio.log_mel_spectrogram
        self.teacher_sha256: str | None = None  # the teacher it was distilled from (saved)
        self._freeze()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_whisper(
        cls,
        whisper_dir: Path,
        head: HeadConfig | None = None,
        chunking: ChunkingConfig | None = None,
        train_top_layers: int = 0,
    ) -> SpeechStudent:
        """A fresh head on a converted Whisper encoder (e.g. ``models/whisper-tiny.en``)."""
        encoder = load_encoder(Path(whisper_dir))
        config = StudentConfig(
            encoder=encoder.dims,
            head=head or HeadConfig(),
            chunking=chunking or ChunkingConfig(),
            train_top_layers=train_top_layers,
            encoder_name=Path(whisper_dir).name,
        )
        return cls(config, encoder)

    def _freeze(self) -> None:
        n = self.config.encoder.n_audio_layer
        k = self.config.train_top_layers
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        for block in self.encoder.blocks[n - k :] if k else []:
            for p in block.parameters():
                p.requires_grad_(True)
        if k:
            for p in self.encoder.ln_post.parameters():
                p.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Head + the top ``train_top_layers`` encoder blocks (and ``ln_post`` with them)."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> SpeechStudent:
        super().train(mode)
        self.encoder.eval()  # Whisper has no dropout; keep the frozen part in eval regardless
        return self

    # -- encoding -----------------------------------------------------------------------------
    def encode_mel(
        self, mel: Tensor, lengths: Tensor | None = None, offsets: Tensor | None = None
    ) -> Tensor:
        """Encoder frames of a batch of windows; frozen blocks run without autograd."""
        n = self.config.encoder.n_audio_layer
        split = n - self.config.train_top_layers
        device = self.encoder.conv1.weight.device
        mel = mel.to(device)
        lengths = None if lengths is None else lengths.to(device)
        with torch.no_grad():
            hidden, key_mask = self.encoder.embed(mel, lengths, offsets)
            hidden = self.encoder(None, hidden=hidden, key_mask=key_mask, end_layer=split)  # type: ignore[arg-type]
        if split == n:
            return hidden
        return self.encoder(None, hidden=hidden, key_mask=key_mask, start_layer=split)  # type: ignore[arg-type]

    def features(self, audio: np.ndarray) -> list[WindowFeatures]:
        """The chunked windows of one utterance (16 kHz mono), ready for :meth:`forward`."""
        return utterance_features(audio, self.config.chunking, self.mel_fn)

    def encode_chunks(
        self, batch: Sequence[Sequence[WindowFeatures]], max_batch: int = 64
    ) -> list[list[Tensor]]:
        """Encoder frames kept from each window of each utterance (cacheable when frozen)."""
        return encode_utterances(self.encode_mel, batch, max_batch=max_batch)

    def _window_one(self, frames: Tensor) -> Tensor:
        return self.head.window(frames[None])[0]

    def forward_chunks(self, chunks: Sequence[Sequence[Tensor]]) -> Tensor:
        """Head on :meth:`encode_chunks` output: per-window layers, then pooling → ``(B, D)``."""
        return _run_head(self.head, chunks)

    def question_logits(self, chunks: Sequence[Sequence[Tensor]]) -> Tensor:
        """The question head's ``(B,)`` logits on :meth:`encode_chunks` output."""
        if self.question is None:
            raise WhisperModelError("this speech model has no question head")
        return _run_head(self.question, chunks)

    def forward(self, batch: Sequence[Sequence[WindowFeatures]] | Tensor) -> Tensor:
        """Embeddings ``(B, out_dim)`` of utterances given as window features (or raw mel).

        A ``(B, n_mels, T)`` tensor is encoded as one window per row (no chunking): use it only
        for short, already-cut segments.
        """
        if isinstance(batch, Tensor):
            frames = self.encode_mel(batch)
            mask = torch.ones(frames.shape[:2], dtype=torch.bool, device=frames.device)
            return self.head(frames, mask)
        return self.forward_chunks(self.encode_chunks(batch))

    @torch.inference_mode()
    def embed_audio(self, audio: np.ndarray) -> np.ndarray:
        """L2-normalised embedding of a whole utterance (16 kHz mono), float32 numpy."""
        was_training = self.training
        self.eval()
        try:
            return self.forward([self.features(audio)])[0].float().cpu().numpy()
        finally:
            self.train(was_training)

    def stream(self) -> StreamingSession:
        """A push-to-talk session: ``push(samples)`` while talking, ``finish()`` at release.

        With a question head, ``finish`` also leaves ``outputs["question"]``: its logit."""
        self.eval()
        extras = {}
        if self.question is not None:
            q = self.question
            extras["question"] = (lambda frames: q.window(frames[None])[0], q.pool)
        return StreamingSession(
            self.encode_mel,
            self._window_one,
            self.head.pool,
            self.config.chunking,
            self.mel_fn,
            extras=extras,
        )

    # -- persistence --------------------------------------------------------------------------
    def save(
        self,
        out_dir: Path,
        dtype: torch.dtype = torch.float32,
        register: bool = True,
        encoder: EncoderMode = "auto",
        teacher_sha256: str | None = None,
    ) -> list[Path]:
        """Write ``config.json`` + ``model.safetensors`` (the config is the metadata ``dims``).

        ``teacher_sha256`` (of the teacher's ``model.safetensors``) pins the teacher the head was
        distilled from: :class:`radvoice.nn.pipeline.RadVoiceModels` refuses another one.

        ``encoder="auto"`` stores only the head and fine-tuned encoder tensors and references the
        Whisper encoder by name + SHA-256 when a registered copy is found beside ``out_dir`` or
        in the models folder (see :mod:`radvoice.nn.student_files`), else the full encoder;
        ``"reference"`` requires the reference, ``"full"`` always copies the encoder.
        """
        from radvoice.nn.registry import save_model

        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        cfg = self.config
        tensors, ref = pack_state(
            state, cfg.encoder, cfg.train_top_layers, cfg.encoder_name, Path(out_dir), encoder
        )
        dims = cfg.to_dict() | (ref.to_dict() if ref is not None else {})
        config = {
            "architecture": "radvoice-speech-student",
            **dims,
            "dtype": str(dtype).removeprefix("torch."),
        }
        if teacher_sha256:
            config["teacher_sha256"] = teacher_sha256
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
        return save_model(Path(out_dir), tensors, config, dims, register=register)

    @classmethod
    def load(cls, model_dir: Path, device: str = "cpu", verify: bool = True) -> SpeechStudent:
        """Load a student saved by :meth:`save`, SHA-256 checked against the registry.

        A referencing checkpoint also loads its Whisper encoder and refuses one whose SHA-256
        differs from the pinned one (:class:`~radvoice.nn.registry.ModelIntegrityError`).
        """
        from radvoice.nn.registry import load_model

        model_dir = Path(model_dir)
        tensors, file_config, dims = load_model(model_dir, verify=verify)
        config = StudentConfig.from_dict(dims)
        referenced = WHISPER_KEY in dims
        base = load_referenced_encoder(dims, model_dir, verify) if referenced else None
        student = cls(config, base)
        try:
            missing, unexpected = student.load_state_dict(
                {k: v.float() for k, v in tensors.items()}, strict=not referenced
            )
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise WhisperModelError(
                f"{model_dir}: weights do not match the config ({first})"
            ) from None
        bad = list(unexpected) + [k for k in missing if not k.startswith(ENCODER_PREFIX)]
        if bad:
            raise WhisperModelError(f"{model_dir}: weights do not match the config ({bad[0]})")
        student.teacher_sha256 = file_config.get("teacher_sha256")
        return student.to(device).eval()


def _run_head(head: nn.Module, chunks: Sequence[Sequence[Tensor]]) -> Tensor:
    """A head's per-window layers on every window, then its pooling over each utterance."""
    flat = [w for utt in chunks for w in utt]
    windows, wmask = pad_frames(flat)
    head_frames = head.window(windows, wmask)
    per_utt, pos = [], 0
    for utt in chunks:
        per_utt.append(torch.cat([head_frames[pos + i, : w.shape[0]] for i, w in enumerate(utt)]))
        pos += len(utt)
    frames, mask = pad_frames(per_utt)
    return head.pool(frames, mask)


def ensemble_students(students: Sequence[SpeechStudent]) -> SpeechStudent:
    """One student whose head averages the heads of ``students`` (seeds of one recipe).

    They must share the frozen encoder (same weights), head shape, chunking and teacher pin;
    ensembles among them are flattened. The result runs the encoder once per window, as a
    single student does, and saves and loads like one (``members`` in its config)."""
    if len(students) < 2:
        raise WhisperModelError("an ensemble needs at least two students")
    first = students[0]
    heads: list[PoolingHead] = []
    for s in students:
        cfg = s.config
        if cfg.train_top_layers:
            raise WhisperModelError("ensemble members must keep their encoder frozen")
        same = (cfg.encoder, cfg.head, cfg.chunking, cfg.encoder_name) == (
            first.config.encoder,
            first.config.head,
            first.config.chunking,
            first.config.encoder_name,
        )
        if not same:
            raise WhisperModelError("ensemble members differ in encoder, head shape or chunking")
        if s.teacher_sha256 != first.teacher_sha256:
            raise WhisperModelError("ensemble members were distilled from different teachers")
        if s is not first and not _same_weights(s.encoder, first.encoder):
            raise WhisperModelError("ensemble members run on different encoder weights")
        heads.extend(s.head.members if isinstance(s.head, HeadEnsemble) else [s.head])  # type: ignore[arg-type]
    cfg = replace(first.config, members=len(heads), question=None)  # train it on the ensemble
    out = SpeechStudent(cfg, first.encoder)
    assert isinstance(out.head, HeadEnsemble)
    for dst, src in zip(out.head.members, heads, strict=True):
        dst.load_state_dict(src.state_dict())
    out.teacher_sha256 = first.teacher_sha256
    out.mel_fn = first.mel_fn
    return out.to(first.encoder.conv1.weight.device).eval()


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k].to(sa[k].device)) for k in sa)


def teacher_weights_sha256(teacher_dir: Path | str | None) -> str | None:
    """SHA-256 of a teacher folder's weights (what a student pins), None without weights."""
    from radvoice.nn.registry import WEIGHTS_NAME, sha256_file

    weights = Path(teacher_dir) / WEIGHTS_NAME if teacher_dir else None
    return sha256_file(weights) if weights is not None and weights.is_file() else None


def check_distilled_from(student: SpeechStudent, student_dir: Path, teacher_dir: Path) -> None:
    """A student lives in its own teacher's space: refuse a teacher other than the pinned one
    (students saved before pinning carry no SHA-256 and pass). A teacher whose CT side was
    retrained against a frozen text space names the teachers it shares that space with
    (``text_space.same_as_teacher_sha256``); it is accepted when its text tower, prompts and
    query prototypes still hash to the recorded ``text_space.sha256``."""
    from radvoice.nn.registry import ModelIntegrityError

    pinned = student.teacher_sha256
    actual = teacher_weights_sha256(teacher_dir) if pinned else None
    if actual is not None and actual != pinned and not _shares_text_space(teacher_dir, pinned):
        raise ModelIntegrityError(
            f"speech model {student_dir} was distilled from another teacher (SHA-256 "
            f"{pinned[:12]}…, {teacher_dir} has {actual[:12]}…): ship a teacher together with "
            "the students trained on it"
        )


def _shares_text_space(teacher_dir: Path, pinned: str | None) -> bool:
    import json

    from radvoice.nn.clip import text_space_sha256
    from radvoice.nn.registry import CONFIG_NAME, WEIGHTS_NAME

    try:
        config = json.loads((Path(teacher_dir) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    space = config.get("text_space") or {}
    if pinned is None or pinned not in space.get("same_as_teacher_sha256", []):
        return False
    from safetensors.torch import load_file

    tensors = load_file(str(Path(teacher_dir) / WEIGHTS_NAME))
    return text_space_sha256(tensors) == space.get("sha256")
