"""The CT–text CLIP teacher: CT encoder + text teacher in one 512-d space, and its losses."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from radvoice.labels import PATHOLOGIES
from radvoice.nn.ct_encoder import CTEncoder, CTEncoderDims
from radvoice.nn.domain import EmbeddingDomain
from radvoice.nn.grid import ModelGrid
from radvoice.nn.grounded import GroundedCTEncoder, GroundedDims
from radvoice.nn.losses import (
    false_negative_mask,
    info_nce,
    prompt_disease_loss,
    siglip_loss,
)
from radvoice.nn.registry import ModelIntegrityError, load_model
from radvoice.nn.text_encoder import TextTeacher, TextTeacherDims
from radvoice.nn.zeroshot import average_prompts, average_queries

MAX_LOGIT_SCALE = 100.0


@dataclass
class LossConfig:
    """Switches of the teacher objective; each one can be measured against its absence."""

    kind: str = "infonce"  # "infonce" | "siglip"
    contrastive_weight: float = 1.0
    disease_weight: float = 1.0  # RadFinder-style prompt supervision; 0 disables it
    fn_guard: bool = True  # BIUD/fVLM false-negative guard
    fn_jaccard: float = 1.0  # label Jaccard at or above which a pair is not a negative
    init_temperature: float = 0.07
    learn_temperature: bool = True
    query_weight: float = 0.0  # spoken-query phrasings → their pathology's query prototype (CE)
    query_batch: int = 64
    siglip_init_bias: float = -10.0
    siglip_init_scale: float = 10.0

    def __post_init__(self) -> None:
        if self.kind not in ("infonce", "siglip"):
            raise ValueError(f"loss kind must be 'infonce' or 'siglip', got {self.kind!r}")


@dataclass
class ClipDims:
    """Everything needed to rebuild the teacher; stored in the checkpoint metadata."""

    ct: CTEncoderDims | GroundedDims = field(default_factory=CTEncoderDims)
    text: TextTeacherDims = field(default_factory=TextTeacherDims)
    grid: ModelGrid = field(default_factory=ModelGrid)
    loss: LossConfig = field(default_factory=LossConfig)

    def to_dict(self) -> dict:
        return {
            "ct": self.ct.to_dict(),
            "text": self.text.to_dict(),
            "grid": self.grid.to_dict(),
            "loss": asdict(self.loss),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ClipDims:
        loss = d.get("loss", {})
        return cls(
            ct=ct_dims_from_dict(d.get("ct", {})),
            text=TextTeacherDims.from_dict(d.get("text", {})),
            grid=ModelGrid.from_dict(d["grid"]) if "grid" in d else ModelGrid(),
            loss=LossConfig(**{k: loss[k] for k in LossConfig.__dataclass_fields__ if k in loss}),
        )


TEXT_SPACE_PREFIXES = ("text.", "zeroshot.prompts", "zeroshot.query_prototypes")


def text_space_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of what defines a teacher's shared space on the text side: the trained text
    weights, the prompt embeddings and the query prototypes (names and float32 bytes)."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(k for k in tensors if k.startswith(TEXT_SPACE_PREFIXES)):
        h.update(name.encode())
        h.update(tensors[name].detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def ct_dims_from_dict(d: dict) -> CTEncoderDims | GroundedDims:
    """The CT encoder's dims by their ``kind`` (no kind: the first CNN encoder)."""
    if d.get("kind") == "grounded":
        return GroundedDims.from_dict(d)
    return CTEncoderDims.from_dict(d)


def build_ct_encoder(dims: CTEncoderDims | GroundedDims) -> nn.Module:
    if isinstance(dims, GroundedDims):
        return GroundedCTEncoder(dims)
    return CTEncoder(dims)


class CTClip(nn.Module):
    """The teacher. ``text`` may be ``None`` when only the CT tower is needed (inference)."""

    def __init__(self, dims: ClipDims | None = None, with_text: bool = True) -> None:
        super().__init__()
        self.dims = dims = dims or ClipDims()
        if dims.ct.embed_dim != dims.text.embed_dim:
            raise ValueError("CT and text embed_dim must match")
        self.ct_encoder = build_ct_encoder(dims.ct)
        self.text: TextTeacher | None = TextTeacher(dims.text) if with_text else None
        lc = dims.loss
        if lc.kind == "siglip":
            init_scale, init_bias = lc.siglip_init_scale, lc.siglip_init_bias
        else:
            init_scale, init_bias = 1.0 / lc.init_temperature, 0.0
        self.log_logit_scale = nn.Parameter(
            torch.tensor(math.log(init_scale)), requires_grad=lc.learn_temperature
        )
        self.logit_bias = nn.Parameter(
            torch.tensor(float(init_bias)), requires_grad=lc.kind == "siglip"
        )

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def encode_ct(self, grid_volumes: torch.Tensor) -> torch.Tensor:
        """``(B, 1, D, H, W)`` grid volumes → L2-normalised ``(B, 512)``."""
        return F.normalize(self.ct_encoder(grid_volumes).float(), dim=-1)

    def _require_text(self) -> TextTeacher:
        if self.text is None:
            raise RuntimeError("this CTClip was built without its text tower")
        return self.text

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        return self._require_text()(texts)

    def encode_text_features(self, pooled: torch.Tensor) -> torch.Tensor:
        """Cached 384-d MiniLM features → normalised shared-space embeddings."""
        return self._require_text().project(pooled.float())

    def prompt_embeddings(self, prompt_features: torch.Tensor, n_pathologies: int) -> torch.Tensor:
        """Features of :func:`radvoice.nn.zeroshot.prompt_texts` → ``(L, 2, D)``."""
        return average_prompts(self.encode_text_features(prompt_features), n_pathologies)

    def losses(
        self,
        ct_emb: torch.Tensor,
        text_emb: torch.Tensor,
        labels: torch.Tensor,
        prompts: torch.Tensor | None,
        ignore: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The weighted objective and its parts. ``ignore`` overrides the label-based guard."""
        lc = self.dims.loss
        scale = self.logit_scale
        if ignore is None and lc.fn_guard:
            ignore = false_negative_mask(labels, threshold=lc.fn_jaccard)
        if lc.kind == "siglip":
            contrastive = siglip_loss(ct_emb, text_emb, scale, self.logit_bias, ignore)
        else:
            contrastive = info_nce(ct_emb, text_emb, scale, ignore)
        parts = {"contrastive": contrastive}
        total = lc.contrastive_weight * contrastive
        if lc.disease_weight > 0 and prompts is not None:
            disease = prompt_disease_loss(ct_emb, prompts, labels, scale)
            parts["disease"] = disease
            total = total + lc.disease_weight * disease
        parts["loss"] = total
        return parts

    def query_prototypes_from_features(self, proto_features: torch.Tensor) -> torch.Tensor:
        """Features of :func:`radvoice.nn.zeroshot.query_texts` → ``(L, D)`` prototypes."""
        return average_queries(self.encode_text_features(proto_features), len(PATHOLOGIES))


@dataclass
class TeacherBundle:
    """A loaded teacher and its cached zero-shot tensors."""

    clip: CTClip
    prompts: torch.Tensor  # (18, 2, 512)
    thresholds: np.ndarray  # (18,)
    query_prototypes: torch.Tensor | None  # (18, 512)
    config: dict[str, Any]
    domain: Any = None  # radvoice.nn.domain.EmbeddingDomain when the teacher ships one


def load_teacher(
    model_dir: Path, with_text: bool = True, device: str | torch.device = "cpu"
) -> TeacherBundle:
    """The exported teacher, SHA-256 checked; ``with_text=False`` skips MiniLM entirely."""
    tensors, config, dims_dict = load_model(Path(model_dir))
    try:
        dims = ClipDims.from_dict(dims_dict)
    except (KeyError, TypeError, ValueError) as err:
        raise ModelIntegrityError(f"{model_dir}: invalid dims metadata ({err})") from None
    clip = CTClip(dims, with_text=with_text)
    state = {
        k: v.float() for k, v in tensors.items() if not k.startswith(("zeroshot.", "domain."))
    }
    if not with_text:
        state = {k: v for k, v in state.items() if not k.startswith("text.")}
    missing, unexpected = clip.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.startswith("text.backbone.")]
    if bad or unexpected:
        raise ModelIntegrityError(
            f"{model_dir}: weights do not fit the stored dims "
            f"({len(bad)} missing, {len(unexpected)} unexpected)"
        )
    for key in ("zeroshot.prompts", "zeroshot.thresholds"):
        if key not in tensors:
            raise ModelIntegrityError(f"{model_dir}: {key} missing from the weights")
    clip.eval().to(device)
    return TeacherBundle(
        clip=clip,
        prompts=tensors["zeroshot.prompts"].float(),
        thresholds=tensors["zeroshot.thresholds"].float().numpy(),
        query_prototypes=tensors.get("zeroshot.query_prototypes"),
        config=config,
        domain=EmbeddingDomain.from_tensors(tensors),
    )
