"""The 3D CT encoder: a small ResNet-like 3D CNN with GroupNorm and attention pooling → 512-d.

Input: ``(B, 1, D, H, W)`` on the model grid (:mod:`radvoice.nn.grid`), values in [-1, 1].
A strided patchify stem reduces the volume 4× in-plane and 2× in depth; each later stage halves
every axis with a strided convolution and stacks residual blocks; a learned query attends over
the final feature map (global attention pooling) and a linear layer projects to ``embed_dim``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CTEncoderDims:
    """Architecture hyper-parameters; stored in checkpoint metadata."""

    in_channels: int = 1
    widths: list[int] = field(default_factory=lambda: [24, 48, 96, 192])
    depths: list[int] = field(default_factory=lambda: [1, 1, 2, 1])
    stem_stride: list[int] = field(default_factory=lambda: [2, 4, 4])
    groups: int = 8
    pool_heads: int = 4
    embed_dim: int = 512
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CTEncoderDims:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    g = groups
    while channels % g:
        g -= 1
    return nn.GroupNorm(g, channels)


class ResBlock3d(nn.Module):
    """Pre-activation residual block: (GN, GELU, conv3) × 2."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = _norm(channels, groups)
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = _norm(channels, groups)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1, bias=False)
        nn.init.zeros_(self.conv2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.gelu(self.norm1(x)))
        h = self.conv2(F.gelu(self.norm2(h)))
        return x + h


class AttentionPool(nn.Module):
    """A learned query attends over all positions (with a learned positional bias)."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, channels) * channels**-0.5)
        self.norm = nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.norm(x.flatten(2).transpose(1, 2))  # (B, N, C)
        q = self.query.expand(x.shape[0], -1, -1) + tokens.mean(dim=1, keepdim=True)
        out, _ = self.attn(q, tokens, tokens, need_weights=False)
        return out[:, 0]


class CTEncoder(nn.Module):
    """3D CNN encoder of a grid volume into an (unnormalised) ``embed_dim`` vector."""

    def __init__(self, dims: CTEncoderDims | None = None) -> None:
        super().__init__()
        self.dims = dims = dims or CTEncoderDims()
        if len(dims.widths) != len(dims.depths) or not dims.widths:
            raise ValueError("CTEncoderDims: widths and depths must be non-empty, same length")
        stride = tuple(dims.stem_stride)
        self.stem = nn.Conv3d(dims.in_channels, dims.widths[0], stride, stride=stride)
        stages: list[nn.Module] = []
        prev = dims.widths[0]
        for s, (w, n) in enumerate(zip(dims.widths, dims.depths, strict=True)):
            layers: list[nn.Module] = []
            if s > 0:
                layers += [_norm(prev, dims.groups), nn.Conv3d(prev, w, 2, stride=2)]
            layers += [ResBlock3d(w, dims.groups) for _ in range(n)]
            stages.append(nn.Sequential(*layers))
            prev = w
        self.stages = nn.Sequential(*stages)
        self.final_norm = _norm(prev, dims.groups)
        self.pool = AttentionPool(prev, dims.pool_heads)
        self.dropout = nn.Dropout(dims.dropout)
        self.head = nn.Linear(prev, dims.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.unsqueeze(1)
        h = self.stages(self.stem(x))
        h = F.gelu(self.final_norm(h))
        return self.head(self.dropout(self.pool(h)))
