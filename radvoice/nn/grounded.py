"""The grounded CT encoder: HU windows in, a heat map per pathology and a CLIP embedding out.

* **Input that keeps what findings are made of.** The grid volume arrives in the full HU range
  (the grid's ``hu_min``/``hu_max``) and is split into HU windows as channels — wide, lung,
  soft tissue, calcium/bone, and metal above +1500 — so emphysema, effusion density, calcium and
  a pacemaker each have a channel where they stand out instead of sharing one clipped range.
* **Dense, grounded features.** A 3-D CNN encoder (patchify stem, residual stages) and a
  feature-pyramid decoder back to the stem's resolution; a 1×1×1 head gives one logit per
  pathology per cell, trained on the finding masks every generated case has. The volume's
  logit per pathology is a log-sum-exp pool of its cells (a smooth maximum whose sharpness is
  learned per pathology: a nodule is one hot spot, emphysema many), so a call is always backed by
  a place in the volume: the heat map.
* **The shared space.** The pooled deep features and the 18 pooled logits are projected to the
  512-d CLIP embedding, trained against the (frozen) text tower's report and prompt embeddings,
  so zero-shot prompts, report retrieval and the speech student work unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from radvoice.nn.ct_encoder import ResBlock3d, _norm

DEFAULT_WINDOWS = [[-1000.0, 1000.0], [-1000.0, -500.0], [-160.0, 240.0], [150.0, 1500.0],
                   [1500.0, 3000.0]]  # fmt: skip


@dataclass
class GroundedDims:
    """Architecture hyper-parameters; stored in checkpoint metadata (``kind`` = grounded)."""

    kind: str = "grounded"
    windows: list[list[float]] = field(default_factory=lambda: [list(w) for w in DEFAULT_WINDOWS])
    hu_range: list[float] = field(default_factory=lambda: [-1024.0, 3071.0])
    widths: list[int] = field(default_factory=lambda: [24, 48, 96, 192])
    depths: list[int] = field(default_factory=lambda: [1, 1, 2, 1])
    stem_stride: list[int] = field(default_factory=lambda: [2, 4, 4])
    decoder_width: int = 32
    groups: int = 8
    n_classes: int = 18
    init_pool_sharpness: float = 4.0
    embed_dim: int = 512
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GroundedDims:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


@dataclass
class GroundedOutput:
    embedding: torch.Tensor  # (B, embed_dim), not normalised
    logits: torch.Tensor  # (B, n_classes) pooled
    dense: torch.Tensor  # (B, n_classes, d, h, w) per-cell logits


def _stage(prev: int, width: int, depth: int, groups: int, down: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    if down:
        layers += [_norm(prev, groups), nn.Conv3d(prev, width, 2, stride=2)]
    layers += [ResBlock3d(width, groups) for _ in range(depth)]
    return nn.Sequential(*layers)


class GroundedCTEncoder(nn.Module):
    """Grid volume ``(B, 1, D, H, W)`` in [-1, 1] → :class:`GroundedOutput`; ``forward`` gives
    the embedding alone, so it drops in wherever the CNN encoder was used."""

    def __init__(self, dims: GroundedDims | None = None) -> None:
        super().__init__()
        self.dims = dims = dims or GroundedDims()
        if len(dims.widths) != len(dims.depths) or len(dims.widths) < 2:
            raise ValueError("GroundedDims: widths and depths need the same length (≥ 2)")
        win = torch.tensor(dims.windows, dtype=torch.float32)
        self.register_buffer("windows", win, persistent=False)
        stride = tuple(dims.stem_stride)
        self.stem = nn.Conv3d(len(dims.windows), dims.widths[0], stride, stride=stride)
        self.stages = nn.ModuleList()
        prev = dims.widths[0]
        for s, (w, n) in enumerate(zip(dims.widths, dims.depths, strict=True)):
            self.stages.append(_stage(prev, w, n, dims.groups, down=s > 0))
            prev = w
        dw = dims.decoder_width
        self.lateral = nn.ModuleList(nn.Conv3d(w, dw, 1) for w in dims.widths)
        self.smooth = nn.Sequential(
            _norm(dw, dims.groups), nn.GELU(), nn.Conv3d(dw, dw, 3, padding=1)
        )
        self.dense_head = nn.Conv3d(dw, dims.n_classes, 1)
        nn.init.constant_(self.dense_head.bias, -4.0)  # findings are rare per cell
        self.log_sharpness = nn.Parameter(
            torch.full((dims.n_classes,), math.log(dims.init_pool_sharpness))
        )
        top = dims.widths[-1]
        self.final_norm = _norm(top, dims.groups)
        self.dropout = nn.Dropout(dims.dropout)
        self.head = nn.Linear(2 * top + dims.n_classes, dims.embed_dim)

    def window_channels(self, x: torch.Tensor) -> torch.Tensor:
        lo_hu, hi_hu = self.dims.hu_range
        hu = (x + 1.0) * (0.5 * (hi_hu - lo_hu)) + lo_hu
        lo = self.windows[:, 0].view(1, -1, 1, 1, 1)
        hi = self.windows[:, 1].view(1, -1, 1, 1, 1)
        return ((hu - lo) / (hi - lo)).clamp(0.0, 1.0) * 2.0 - 1.0

    def pool_logits(self, dense: torch.Tensor) -> torch.Tensor:
        """Log-sum-exp pooling per pathology: ``(B, L, d, h, w)`` → ``(B, L)``."""
        r = self.log_sharpness.exp().view(1, -1, 1)
        flat = dense.flatten(2)
        return (torch.logsumexp(r * flat, dim=2) - math.log(flat.shape[2])) / r[..., 0]

    def analyse(self, x: torch.Tensor) -> GroundedOutput:
        if x.dim() == 4:
            x = x.unsqueeze(1)
        h = self.stem(self.window_channels(x))
        feats = []
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        p = self.lateral[-1](feats[-1])
        for lat, f in zip(self.lateral[-2::-1], feats[-2::-1], strict=True):
            p = lat(f) + F.interpolate(p, size=f.shape[2:], mode="trilinear", align_corners=False)
        dense = self.dense_head(self.smooth(p))
        logits = self.pool_logits(dense)
        top = F.gelu(self.final_norm(feats[-1])).flatten(2)
        # the embedding reads the grounded logits but does not train them: the shared-space
        # objectives shape the projection, only the masks and labels shape the heat maps
        pooled = torch.cat([top.mean(dim=2), top.amax(dim=2), logits.detach()], dim=1)
        return GroundedOutput(self.head(self.dropout(pooled)), logits, dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.analyse(x).embedding

    def dense_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, d, h, w)`` per-cell probability of each pathology (the heat maps)."""
        return torch.sigmoid(self.analyse(x).dense)
