"""Cache of frozen MiniLM features (pooled 384-d) of reports and prompts."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from radvoice.nn.text_encoder import TextTeacher, encode_features_batched


def texts_key(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def cached_features(
    teacher: TextTeacher, texts: list[str], folder: Path | None, tag: str
) -> torch.Tensor:
    """Pooled frozen-backbone features of ``texts`` ``(N, 384)``, read from / written to
    ``folder/text_<tag>_<hash>.pt`` when a folder is given."""
    settings = f"{teacher.dims.max_length}:{teacher.dims.chunk_tokens}"
    key = texts_key([settings, *texts])
    path = Path(folder) / f"text_{tag}_{key}.pt" if folder else None
    if path is not None and path.is_file():
        feats = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(feats, torch.Tensor) and feats.shape[0] == len(texts):
            return feats
    feats = encode_features_batched(teacher, texts)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        torch.save(feats, tmp)
        os.replace(tmp, path)
    return feats
