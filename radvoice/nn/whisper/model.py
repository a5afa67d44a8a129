"""A compact torch Whisper audio encoder (openai/whisper layout and parameter names).

Differences from openai/whisper, all opt-in and exact on unpadded input:

* variable-length input: the positional embedding is sliced to the input length, so a 3 s
  window costs 150 frames instead of Whisper's 1500 (see ``docs/history/notes/speech-student.md`` for
  how these outputs differ from the 30 s padded ones);
* a batch of windows of different lengths: ``lengths`` masks the padded mel frames (conv outputs
  past the end are zeroed, attention ignores padded keys), so each row equals its unpadded
  encoding up to float rounding;
* ``forward(..., start_layer, end_layer)`` runs a slice of the blocks, so a student can run the
  frozen lower blocks without autograd and the trainable top blocks with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from radvoice.errors import RadVoiceError


class WhisperModelError(RadVoiceError):
    """A Whisper weight file or configuration that cannot be used."""


@dataclass(frozen=True)
class WhisperDims:
    """Shape of a Whisper audio encoder (names as in openai/whisper's ``ModelDimensions``)."""

    n_mels: int = 80
    n_audio_ctx: int = 1500
    n_audio_state: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WhisperDims:
        try:
            return cls(**{k: int(data[k]) for k in cls.__dataclass_fields__})
        except (KeyError, TypeError, ValueError) as err:
            raise WhisperModelError(f"invalid Whisper encoder dims {data!r}: {err}") from None


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """Whisper's sinusoidal positional embedding, ``(length, channels)`` float32."""
    if channels % 2:
        raise WhisperModelError(f"positional embedding needs an even width, got {channels}")
    log_timescale_increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-log_timescale_increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)


def frames_after_conv(n_mel_frames: Tensor | int) -> Tensor | int:
    """Encoder frames for ``n`` mel frames: conv2 has stride 2 and padding 1, so ``ceil(n / 2)``."""
    return (n_mel_frames + 1) // 2


class MultiHeadAttention(nn.Module):
    """Self-attention with openai/whisper's parameter names (the key projection has no bias)."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        b, t, c = x.shape
        h = self.n_head

        def split(y: Tensor) -> Tensor:
            return y.view(b, t, h, c // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        mask = None if key_mask is None else key_mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, c))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block: self-attention then a 4x GELU MLP."""

    def __init__(self, n_state: int, n_head: int) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.mlp = nn.Sequential(
            nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state)
        )
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.attn_ln(x), key_mask)
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    """Whisper's audio encoder: two convolutions, sinusoidal positions, pre-norm blocks."""

    def __init__(self, dims: WhisperDims) -> None:
        super().__init__()
        self.dims = dims
        n = dims.n_audio_state
        self.conv1 = nn.Conv1d(dims.n_mels, n, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n, n, kernel_size=3, stride=2, padding=1)
        self.register_buffer(
            "positional_embedding", sinusoids(dims.n_audio_ctx, n), persistent=False
        )
        self.blocks = nn.ModuleList(
            ResidualAttentionBlock(n, dims.n_audio_head) for _ in range(dims.n_audio_layer)
        )
        self.ln_post = nn.LayerNorm(n)

    def embed(
        self, mel: Tensor, lengths: Tensor | None = None, offsets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Convolutions + positions: ``(B, n_mels, T)`` → ``(B, ceil(T/2), C)`` and a key mask.

        ``offsets`` (B,) shifts each row's positions (a window that starts ``o`` encoder frames
        into the utterance gets positions ``o, o+1, …``), clamped so they stay below
        ``n_audio_ctx``.
        """
        if mel.ndim != 3 or mel.shape[1] != self.dims.n_mels:
            raise WhisperModelError(
                f"expected mel features (batch, {self.dims.n_mels}, frames), got {tuple(mel.shape)}"
            )
        n_out = int(frames_after_conv(mel.shape[-1]))
        if n_out > self.dims.n_audio_ctx:
            raise WhisperModelError(
                f"{mel.shape[-1]} mel frames exceed the encoder's {2 * self.dims.n_audio_ctx}"
            )
        key_mask = None
        out_lengths = torch.full((mel.shape[0],), n_out, device=mel.device)
        if lengths is None:
            x = F.gelu(self.conv1(mel))
        else:  # zero the padding before each convolution, as their own zero padding would be
            lengths = lengths.to(mel.device)
            frame = torch.arange(mel.shape[-1], device=mel.device)
            valid = (frame[None, :] < lengths[:, None]).to(mel.dtype)[:, None, :]
            x = F.gelu(self.conv1(mel * valid)) * valid
            out_lengths = frames_after_conv(lengths)
            key_mask = torch.arange(n_out, device=mel.device)[None, :] < out_lengths[:, None]
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        if offsets is None:
            pos = self.positional_embedding[:n_out]
        else:
            start = torch.minimum(offsets.to(mel.device), self.dims.n_audio_ctx - out_lengths)
            idx = start.clamp(min=0)[:, None] + torch.arange(n_out, device=mel.device)[None, :]
            pos = self.positional_embedding[idx.clamp(max=self.dims.n_audio_ctx - 1)]
        return x + pos.to(x.dtype), key_mask

    def forward(
        self,
        mel: Tensor,
        lengths: Tensor | None = None,
        offsets: Tensor | None = None,
        *,
        start_layer: int = 0,
        end_layer: int | None = None,
        hidden: Tensor | None = None,
        key_mask: Tensor | None = None,
    ) -> Tensor:
        """Encode ``mel`` (or continue from ``hidden`` at ``start_layer``); ``ln_post`` at the end.

        ``end_layer`` < n_layers returns the hidden state before that block (no ``ln_post``).
        """
        end = len(self.blocks) if end_layer is None else end_layer
        if hidden is None:
            if start_layer != 0:
                raise WhisperModelError("start_layer > 0 needs the hidden state to start from")
            hidden, key_mask = self.embed(mel, lengths, offsets)
        for block in self.blocks[start_layer:end]:
            hidden = block(hidden, key_mask)
        if end == len(self.blocks):
            hidden = self.ln_post(hidden)
        if key_mask is not None:
            hidden = hidden * key_mask[..., None].to(hidden.dtype)
        return hidden


def save_encoder(
    encoder: AudioEncoder,
    out_dir: Path,
    extra: dict | None = None,
    dtype: torch.dtype = torch.float16,
    register: bool = True,
) -> list[Path]:
    """Write ``config.json`` (dims + ``extra``) and ``model.safetensors`` in ``dtype``.

    Both files are registered (SHA-256) in ``out_dir.parent/registry.json`` unless ``register``
    is False.
    """
    from radvoice.nn.registry import save_model

    config = {"architecture": "whisper-audio-encoder", **(extra or {})}
    state = {k: v.detach().to(dtype) for k, v in encoder.state_dict().items()}
    return save_model(Path(out_dir), state, config, encoder.dims.to_dict(), register=register)


def load_encoder(
    model_dir: Path, dtype: torch.dtype = torch.float32, device: str = "cpu", verify: bool = True
) -> AudioEncoder:
    """Load an encoder written by :func:`save_encoder`, SHA-256 checked against the registry."""
    from radvoice.nn.registry import load_model

    tensors, _config, dims = load_model(Path(model_dir), verify=verify)
    encoder = AudioEncoder(WhisperDims.from_dict(dims))
    try:
        encoder.load_state_dict({k: v.to(dtype) for k, v in tensors.items()})
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise WhisperModelError(f"{model_dir}: weights do not match the dims ({first})") from None
    return encoder.to(device=device, dtype=dtype).eval()
