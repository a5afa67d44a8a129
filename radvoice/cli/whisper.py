"""``radvoice whisper convert``: CTranslate2 Whisper package → fp16 torch encoder in models/."""

from __future__ import annotations

import argparse
from pathlib import Path

WHISPER_MIT_LICENSE = """MIT License

Copyright (c) 2022 OpenAI

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

LICENSE_NOTICE = (
    "Whisper encoder weights by OpenAI (MIT licence, see models/whisper/LICENSE-whisper), "
    "converted from a CTranslate2 package by radvoice.nn.whisper.convert"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("whisper", help="Whisper encoder tools (convert)")
    sub = parser.add_subparsers(dest="whisper_command", metavar="ACTION", required=True)
    conv = sub.add_parser(
        "convert",
        help="convert a CTranslate2 Whisper package into fp16 torch encoder weights",
        description="Read a CTranslate2 Whisper model.bin (our own parser) and write the "
        "encoder as config.json + model.safetensors (fp16), registered by SHA-256.",
    )
    src = conv.add_mutually_exclusive_group(required=True)
    src.add_argument("--size", choices=("tiny.en", "base"), help="an installed package")
    src.add_argument(
        "--ct2-dir", type=Path, help="a CTranslate2 model folder (model.bin or model.bin.partN)"
    )
    conv.add_argument("--out", type=Path, help="output folder (default models/whisper-SIZE)")
    conv.add_argument(
        "--check",
        action="store_true",
        help="compare the converted encoder with ctranslate2's on the same features",
    )
    conv.add_argument("--no-register", action="store_true", help="do not write registry.json")
    conv.set_defaults(func=_convert)


def write_license(folder: Path) -> Path:
    """Write Whisper's MIT licence as ``folder/LICENSE-whisper``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "LICENSE-whisper"
    path.write_text(WHISPER_MIT_LICENSE, encoding="utf-8")
    return path


def _convert(args: argparse.Namespace) -> int:
    import torch

    from radvoice.nn.registry import models_dir, sha256_file
    from radvoice.nn.whisper.convert import encoder_from_ct2, model_bin_parts, package_model_files
    from radvoice.nn.whisper.model import WhisperModelError, save_encoder

    if args.size:
        files, source = package_model_files(args.size), f"CTranslate2 package whisper {args.size}"
        name = f"whisper-{args.size}"
    else:
        files, source = model_bin_parts(args.ct2_dir), f"CTranslate2 folder {args.ct2_dir.name}"
        name = f"whisper-{args.ct2_dir.name}"
    out = args.out or models_dir() / name
    encoder = encoder_from_ct2(files)
    extra = {
        "source": source,
        "source_sha256": [sha256_file(f) for f in files],
        "dtype": "float16",
        "license": LICENSE_NOTICE,
    }
    root = models_dir().resolve()
    lic_dir = root / "whisper" if out.resolve().is_relative_to(root) else out
    try:
        written = save_encoder(
            encoder, out, extra=extra, dtype=torch.float16, register=not args.no_register
        )
        lic = write_license(lic_dir)
    except OSError as err:
        raise WhisperModelError(f"cannot write {out}: {err.strerror or err}") from None
    n_params = sum(p.numel() for p in encoder.parameters())
    print(f"{name}: {encoder.dims} ({n_params / 1e6:.1f} M parameters)")
    for f in [*written, lic]:
        print(f"  wrote {f} ({f.stat().st_size / 1e6:.1f} MB)")
    if args.check:
        from radvoice.audio.mel import log_mel_spectrogram
        from radvoice.nn.whisper.ct2_runtime import load_ct2_whisper
        from radvoice.nn.whisper.equivalence import compare_with_ctranslate2, synthetic_speechlike
        from radvoice.nn.whisper.model import load_encoder

        ct2 = load_ct2_whisper(args.size, args.ct2_dir, compute_type="float32")
        mel = log_mel_spectrogram(synthetic_speechlike(8.0))[None].numpy()
        ours = load_encoder(out, verify=not args.no_register)
        print(
            f"  fp16 weights vs ctranslate2 float32 on 8 s: {compare_with_ctranslate2(ct2, ours, mel)}"
        )
    return 0
