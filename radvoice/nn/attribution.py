"""Attribution on the model grid: the pathology index and Grad-CAM for a CNN teacher."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGY_INDEX


class HeatmapError(RadVoiceError):
    """No heat map for this request (unknown pathology, unusable volume)."""


def pathology_index(pathology: str) -> int:
    if pathology not in PATHOLOGY_INDEX:
        raise HeatmapError(f"unknown pathology {pathology!r}; expected one of the 18 CT-RATE labels")
    return PATHOLOGY_INDEX[pathology]


def gradcam_grid(clip, grid: torch.Tensor, prompts: torch.Tensor, index: int) -> torch.Tensor:
    """Grad-CAM of the zero-shot logit ``index`` on the CNN encoder's next-to-last stage:
    ``(D', H', W')`` map, ReLU'd and scaled to a maximum of 1 (all zero when nothing supports
    the finding)."""
    from radvoice.nn.losses import prompt_logits

    enc = clip.ct_encoder
    stages = list(enc.stages)
    with torch.enable_grad():
        x = grid if grid.dim() == 5 else grid[:, None]
        h = enc.stem(x)
        for stage in stages[:-1]:
            h = stage(h)
        acts = h.detach().requires_grad_(True)
        out = stages[-1](acts)
        out = F.gelu(enc.final_norm(out))
        emb = F.normalize(enc.head(enc.pool(out)).float(), dim=-1)
        logit = prompt_logits(emb, prompts.to(emb), clip.logit_scale.detach())[0, index]
        (grad,) = torch.autograd.grad(logit, acts)
    weights = grad.mean(dim=(2, 3, 4), keepdim=True)
    cam = F.relu((weights * acts).sum(dim=1))[0].detach()
    peak = float(cam.max())
    return cam / peak if peak > 0 else cam
