"""Open a CTranslate2 Whisper package with ``ctranslate2.models.Whisper`` (parts joined in memory)."""

from __future__ import annotations

from pathlib import Path

from radvoice.nn.whisper.convert import model_bin_parts, package_dirs, package_model_files
from radvoice.nn.whisper.model import WhisperModelError

SIDE_FILES = ("config.json", "vocabulary.txt", "vocabulary.json", "tokenizer.json")


def ct2_files(
    size: str | None = None, ct2_dir: Path | None = None
) -> tuple[Path, dict[str, bytes] | None]:
    """``(model_path, files)`` for ``ctranslate2.models.Whisper``.

    A single ``model.bin`` loads from its folder (``files`` is None); a split model is joined in
    memory with its side files, so nothing is written to disk.
    """
    if (size is None) == (ct2_dir is None):
        raise WhisperModelError("give a Whisper size or a CTranslate2 folder")
    if size is not None:
        parts, folders = package_model_files(size), package_dirs(size)
    else:
        parts, folders = model_bin_parts(Path(ct2_dir)), [Path(ct2_dir)]
    if len(parts) == 1 and parts[0].name == "model.bin":
        return parts[0].parent, None
    files = {"model.bin": b"".join(p.read_bytes() for p in parts)}
    for name in SIDE_FILES:
        for folder in folders:
            if (folder / name).is_file():
                files[name] = (folder / name).read_bytes()
                break
    if "config.json" not in files:
        raise WhisperModelError(f"{folders[0]}: no config.json beside the model parts")
    return folders[0], files


def load_ct2_whisper(
    size: str | None = None,
    ct2_dir: Path | None = None,
    compute_type: str = "int8",
    threads: int = 0,
):
    """A ``ctranslate2.models.Whisper`` on the CPU for an installed package or a folder."""
    import ctranslate2

    path, files = ct2_files(size, ct2_dir)
    try:
        return ctranslate2.models.Whisper(
            str(path), device="cpu", compute_type=compute_type, intra_threads=threads, files=files
        )
    except (RuntimeError, ValueError) as err:
        raise WhisperModelError(f"ctranslate2 cannot load {path}: {err}") from None
