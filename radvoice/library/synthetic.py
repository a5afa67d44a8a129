"""Synthetic library cases: stored with source ``synthetic:<seed>:<index>`` and regenerated
from the corpus generator when their volume is needed (no voxels kept)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from radvoice.imaging.volume import Volume
from radvoice.library.errors import LibraryError

SYNTHETIC_PREFIX = "synthetic:"


def synthetic_generator() -> Callable[..., Any]:
    """``radvoice.data.generate_case``, or a clear error while it does not exist."""
    try:
        from radvoice.data import generate_case  # type: ignore[attr-defined]
    except ImportError:
        try:
            from radvoice.data.synth import generate_case
        except ImportError:
            raise LibraryError(
                "the synthetic case generator (radvoice.data.generate_case) is not available"
                " yet; the demo library cannot be built without it"
            ) from None
    return generate_case


def synthetic_source(seed: int, index: int) -> str:
    return f"{SYNTHETIC_PREFIX}{seed}:{index}"


def synthetic_volume(source: str) -> Volume:
    """The volume of a ``synthetic:<seed>:<index>`` case (regenerated deterministically)."""
    try:
        seed, index = (int(v) for v in source[len(SYNTHETIC_PREFIX) :].split(":"))
    except ValueError:
        raise LibraryError(f"not a synthetic case source: {source!r}") from None
    return synthetic_generator()(seed, index).volume
