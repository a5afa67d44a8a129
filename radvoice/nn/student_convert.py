"""Rewrite speech-student folders in the referencing format (head only + Whisper SHA-256).

    .venv/bin/python -m radvoice.nn.student_convert models/student models/student_nokd
        [--dtype float32|float16] [--min-cosine 0.9999]

Each folder is loaded (registry-checked), written to a scratch folder beside it, reloaded and
compared with the original on a few synthetic utterances (embedding cosine must exceed
``--min-cosine``); only then is the folder rewritten in place and re-registered in its parent's
``registry.json``. Files other than ``config.json``/``model.safetensors`` (``training.json``) stay.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from radvoice.errors import RadVoiceError

DTYPES = {"float32": torch.float32, "float16": torch.float16}


def check_clips(seconds: tuple[float, ...] = (1.3, 3.7, 6.2)) -> list[np.ndarray]:
    from radvoice.nn.whisper.equivalence import synthetic_speechlike

    return [synthetic_speechlike(s, seed=i) for i, s in enumerate(seconds)]


def convert(folder: Path, dtype: torch.dtype, min_cosine: float) -> tuple[int, int, float]:
    """Convert one folder; ``(bytes before, bytes after, worst embedding cosine)``."""
    from radvoice.nn.registry import WEIGHTS_NAME
    from radvoice.nn.speech_student import SpeechStudent

    folder = Path(folder)
    before = (folder / WEIGHTS_NAME).stat().st_size
    old = SpeechStudent.load(folder)
    clips = check_clips()
    ref = [old.embed_audio(c) for c in clips]
    scratch = folder.with_name(folder.name + ".converting")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        old.save(scratch, dtype=dtype, register=False, encoder="reference")
        new = SpeechStudent.load(scratch, verify=False)
        worst = min(float(np.dot(a, new.embed_audio(c))) for a, c in zip(ref, clips, strict=True))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if worst <= min_cosine:
        raise RadVoiceError(f"{folder}: converted embeddings drift (cosine {worst:.6f})")
    old.save(folder, dtype=dtype, register=True, encoder="reference")
    SpeechStudent.load(folder)  # registry and encoder SHA-256 check of what was written
    return before, (folder / WEIGHTS_NAME).stat().st_size, worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--min-cosine", type=float, default=0.9999)
    args = parser.parse_args(argv)
    try:
        for folder in args.folders:
            before, after, cos = convert(folder, DTYPES[args.dtype], args.min_cosine)
            print(f"{folder}: {before / 1e6:.2f} MB → {after / 1e6:.2f} MB, min cosine {cos:.7f}")
    except RadVoiceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
