"""The model registry: ``models/<name>/{config.json, model.safetensors}`` checked by SHA-256.

``<root>/registry.json`` maps each file's path relative to ``<root>`` to its hex SHA-256 (the
same file and format as :mod:`radvoice.nn.whisper.checksums`). :func:`load_model` refuses a file
that is missing, unregistered, altered or unparsable, with a one-line :class:`ModelIntegrityError`.
The dims dataclasses travel inside the safetensors metadata (key ``dims``, JSON) as well as in
``config.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from radvoice.errors import RadVoiceError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
REGISTRY_NAME = "registry.json"


class ModelIntegrityError(RadVoiceError):
    """A model file is missing, unregistered, altered or corrupt."""


def models_dir() -> Path:
    """The repository's ``models/`` folder (``RADVOICE_MODELS`` overrides it)."""
    env = os.environ.get("RADVOICE_MODELS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _read_registry(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelIntegrityError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict):
        raise ModelIntegrityError(f"{path} is not a JSON object")
    return {str(k): str(v) for k, v in data.items()}


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".registry.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def register_files(files: list[Path], root: Path) -> dict[str, str]:
    """Record the SHA-256 of ``files`` (under ``root``) in ``root/registry.json`` atomically."""
    root = Path(root).resolve()
    added = {}
    for f in files:
        try:
            rel = Path(f).resolve().relative_to(root).as_posix()
        except ValueError:
            raise ModelIntegrityError(f"{f} is not under the registry root {root}") from None
        added[rel] = sha256_file(Path(f))
    with _locked(root):
        reg = root / REGISTRY_NAME
        data = _read_registry(reg)
        data.update(added)
        tmp = reg.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, reg)
    return added


def verify_file(path: Path, root: Path) -> None:
    """Raise :class:`ModelIntegrityError` unless ``path`` exists and matches its registry entry."""
    root = Path(root).resolve()
    path = Path(path)
    if not path.is_file():
        raise ModelIntegrityError(f"model file missing: {path}")
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise ModelIntegrityError(f"{path} is not under the registry root {root}") from None
    expected = _read_registry(root / REGISTRY_NAME).get(rel)
    if expected is None:
        raise ModelIntegrityError(f"{rel} is not listed in {root / REGISTRY_NAME}")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{rel}: SHA-256 {actual[:12]}… differs from the registry ({expected[:12]}…); "
            "the file is corrupt or was replaced"
        )


def save_model(
    model_dir: Path,
    tensors: dict[str, torch.Tensor],
    config: dict[str, Any],
    dims: dict[str, Any],
    register: bool = True,
) -> list[Path]:
    """Write ``config.json`` + ``model.safetensors`` (dims in metadata) and register both
    in ``model_dir.parent/registry.json``."""
    from safetensors.torch import save_file

    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    config = dict(config)
    config["dims"] = dims
    cfg_path = model_dir / CONFIG_NAME
    cfg_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    weights = model_dir / WEIGHTS_NAME
    clean = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(clean, str(tmp), metadata={"dims": json.dumps(dims), "format": "radvoice"})
    os.chmod(tmp, cfg_path.stat().st_mode & 0o777)  # safetensors writes 0600; follow the umask
    os.replace(tmp, weights)
    files = [cfg_path, weights]
    if register:
        register_files(files, model_dir.parent)
    return files


def load_model(
    model_dir: Path, verify: bool = True
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """``(tensors, config, dims)`` of a saved model, after checking both files' SHA-256."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelIntegrityError(f"model folder not found: {model_dir}")
    cfg_path, weights = model_dir / CONFIG_NAME, model_dir / WEIGHTS_NAME
    if verify:
        for f in (cfg_path, weights):
            verify_file(f, model_dir.parent)
    elif not weights.is_file() or not cfg_path.is_file():
        raise ModelIntegrityError(f"{model_dir} lacks {CONFIG_NAME} or {WEIGHTS_NAME}")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelIntegrityError(f"{cfg_path}: unreadable JSON ({err})") from None
    try:
        from safetensors import safe_open

        tensors = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelIntegrityError(f"{weights}: not a readable safetensors file ({err})") from None
    try:
        dims = json.loads(meta["dims"]) if "dims" in meta else config.get("dims", {})
    except ValueError:
        raise ModelIntegrityError(f"{weights}: malformed dims metadata") from None
    return tensors, config, dims
