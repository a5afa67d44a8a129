"""Chunked Whisper encoding: the same windows while the user talks, at key release and in training.

An utterance is cut into fixed chunks of ``chunk_seconds``. Chunk ``k`` is encoded from the
window ``[k·C − L, (k+1)·C)`` of audio (``L`` = ``context_seconds`` of left context, less at the
start): the window gets its own log-mel spectrogram and its own encoder pass, and only the
encoder frames of the chunk itself are kept. With ``absolute_positions`` (the default) a window
keeps the positional embeddings of its place in the utterance (clamped to Whisper's 30 s), which
keeps chunked frames close to whole-utterance frames (measured in docs/history/notes/speech-student.md).
Every window is a pure function of its audio and its start, so

* while talking, each chunk is encoded as soon as its audio is complete (:class:`StreamingSession`);
* at key release only the last, partial chunk is encoded, then the pooling runs over all frames;
* training (:func:`encode_utterances`) computes exactly the same windows, batched.

Chunk and context lengths are multiples of 320 samples (one encoder frame: 2 mel hops of 160).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from radvoice.errors import RadVoiceError

SAMPLE_RATE = 16000
HOP_LENGTH = 160
SAMPLES_PER_FRAME = 2 * HOP_LENGTH  # one encoder frame after Whisper's stride-2 conv
MIN_SAMPLES = SAMPLES_PER_FRAME

MelFn = Callable[[np.ndarray], Tensor]


class StreamingError(RadVoiceError):
    """Audio or settings the chunked speech encoder cannot use."""


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk length and left context of the chunked encoder, in seconds (16 kHz audio)."""

    chunk_seconds: float = 2.0
    context_seconds: float = 1.0
    absolute_positions: bool = True  # windows keep their positions in the utterance

    def __post_init__(self) -> None:
        for name in ("chunk_seconds", "context_seconds"):
            samples = getattr(self, name) * SAMPLE_RATE
            if (
                samples < 0
                or abs(samples - round(samples)) > 1e-6
                or round(samples) % SAMPLES_PER_FRAME
            ):
                raise StreamingError(
                    f"{name}={getattr(self, name)} is not a multiple of {SAMPLES_PER_FRAME / SAMPLE_RATE} s"
                )
        if self.chunk_seconds <= 0:
            raise StreamingError("chunk_seconds must be positive")
        if self.chunk_seconds + self.context_seconds > 30.0:
            raise StreamingError("a window (chunk + context) must not exceed Whisper's 30 s")

    @property
    def chunk_samples(self) -> int:
        return round(self.chunk_seconds * SAMPLE_RATE)

    @property
    def context_samples(self) -> int:
        return round(self.context_seconds * SAMPLE_RATE)

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChunkingConfig:
        kwargs: dict = {
            k: float(data[k]) for k in ("chunk_seconds", "context_seconds") if k in data
        }
        if "absolute_positions" in data:
            kwargs["absolute_positions"] = bool(data["absolute_positions"])
        return cls(**kwargs)


@dataclass(frozen=True)
class Window:
    """Audio ``[start, end)`` encoded for the chunk ``[chunk_start, end)``."""

    start: int
    chunk_start: int
    end: int

    @property
    def keep_from(self) -> int:
        """Encoder frames of left context to drop from this window's output."""
        return (self.chunk_start - self.start) // SAMPLES_PER_FRAME

    @property
    def first_frame(self) -> int:
        """The utterance's encoder-frame index where this window starts."""
        return self.start // SAMPLES_PER_FRAME


@dataclass
class WindowFeatures:
    """A window's log-mel ``(n_mels, frames)``, output frames to drop, first position index."""

    mel: Tensor
    keep_from: int
    position: int = 0


def window_for_chunk(k: int, end: int, config: ChunkingConfig) -> Window:
    """The window of chunk ``k``, whose audio ends at ``end`` (≤ the chunk's nominal end)."""
    chunk_start = k * config.chunk_samples
    return Window(max(0, chunk_start - config.context_samples), chunk_start, end)


def plan_windows(n_samples: int, config: ChunkingConfig) -> list[Window]:
    """All windows of an utterance of ``n_samples``: full chunks, then the partial last one."""
    if n_samples < MIN_SAMPLES:
        raise StreamingError(
            f"audio too short to encode ({n_samples} samples; need ≥ {MIN_SAMPLES / SAMPLE_RATE * 1000:.0f} ms)"
        )
    c = config.chunk_samples
    n_chunks = -(-n_samples // c)
    windows = [window_for_chunk(k, min((k + 1) * c, n_samples), config) for k in range(n_chunks)]
    # A tail shorter than one encoder frame (20 ms) yields no frame of its own: it is dropped.
    if len(windows) > 1 and windows[-1].end - windows[-1].chunk_start < SAMPLES_PER_FRAME:
        windows.pop()
    return windows


def default_mel_fn() -> MelFn:
    """Whisper's front end from :mod:`radvoice.audio`."""
    try:
        from radvoice.audio import log_mel_spectrogram
    except ImportError as err:  # pragma: no cover - only while radvoice.audio is incomplete
        raise StreamingError(f"radvoice.audio.log_mel_spectrogram unavailable: {err}") from None
    return log_mel_spectrogram


def as_mono_float(audio: np.ndarray) -> np.ndarray:
    """16 kHz samples as contiguous float32 mono (int16 PCM is scaled to [-1, 1))."""
    arr = np.asarray(audio)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise StreamingError(f"expected mono audio samples, got an array of shape {arr.shape}")
    if arr.dtype == np.int16:
        arr = arr.astype(np.float32) / 32768.0
    elif not np.issubdtype(arr.dtype, np.floating):
        raise StreamingError(f"unsupported audio sample type {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise StreamingError("audio contains NaN or infinite samples")
    return arr


def window_features(
    window: Window, audio: np.ndarray, mel_fn: MelFn, absolute_positions: bool = True
) -> WindowFeatures:
    """Log-mel of one window's audio (``audio`` indexed from sample 0 of the utterance)."""
    mel = torch.as_tensor(mel_fn(audio[window.start : window.end]), dtype=torch.float32)
    if mel.ndim != 2:
        raise StreamingError(
            f"mel function returned shape {tuple(mel.shape)}, expected (mels, frames)"
        )
    # Frames beyond (end - start) / hop would see padding past the window: Whisper drops them.
    mel = mel[:, : (window.end - window.start) // HOP_LENGTH]
    position = window.first_frame if absolute_positions else 0
    return WindowFeatures(mel=mel, keep_from=window.keep_from, position=position)


def utterance_features(
    audio: np.ndarray, config: ChunkingConfig, mel_fn: MelFn | None = None
) -> list[WindowFeatures]:
    """The windows' features of a whole utterance, exactly as streaming computes them."""
    audio = as_mono_float(audio)
    mel_fn = mel_fn or default_mel_fn()
    return [
        window_features(w, audio, mel_fn, config.absolute_positions)
        for w in plan_windows(len(audio), config)
    ]


def pad_windows(windows: Sequence[WindowFeatures]) -> tuple[Tensor, Tensor]:
    """Stack windows into ``(N, n_mels, T_max)`` zero-padded mel and their frame counts."""
    lengths = torch.tensor([w.mel.shape[-1] for w in windows], dtype=torch.long)
    n_mels = windows[0].mel.shape[0]
    mel = torch.zeros(len(windows), n_mels, int(lengths.max()))
    for i, w in enumerate(windows):
        mel[i, :, : w.mel.shape[-1]] = w.mel
    return mel, lengths


EncodeFn = Callable[[Tensor, Tensor | None, Tensor | None], Tensor]


def encode_windows(
    encode: EncodeFn, windows: Sequence[WindowFeatures], max_batch: int = 64
) -> list[Tensor]:
    """Encode windows in length-sorted batches; returns each window's kept frames ``(k, C)``.

    ``encode(mel, lengths, offsets)`` is the encoder call (``lengths`` is None for a single
    window; ``offsets`` are the windows' first positions).
    """
    out: list[Tensor | None] = [None] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: windows[i].mel.shape[-1])
    for s in range(0, len(order), max_batch):
        idx = order[s : s + max_batch]
        group = [windows[i] for i in idx]
        offsets = torch.tensor([w.position for w in group], dtype=torch.long)
        if len(group) == 1:
            hidden = encode(group[0].mel[None], None, offsets)
            lengths = torch.tensor([group[0].mel.shape[-1]])
        else:
            mel, lengths = pad_windows(group)
            hidden = encode(mel, lengths, offsets)
        for row, (i, w) in enumerate(zip(idx, group, strict=True)):
            n_out = (int(lengths[row]) + 1) // 2
            out[i] = hidden[row, w.keep_from : n_out]
    return out  # type: ignore[return-value]


def encode_utterances(
    encode: EncodeFn, utterances: Sequence[Sequence[WindowFeatures]], max_batch: int = 64
) -> list[list[Tensor]]:
    """Chunk-encode a batch of utterances: per utterance, each window's kept frames ``(k, C)``.

    This is the training-time twin of :class:`StreamingSession`: the same windows, batched.
    """
    flat = [w for utt in utterances for w in utt]
    if not flat:
        raise StreamingError("no audio windows to encode")
    encoded = encode_windows(encode, flat, max_batch=max_batch)
    out, pos = [], 0
    for utt in utterances:
        out.append(encoded[pos : pos + len(utt)])
        pos += len(utt)
    return out


def pad_frames(frames: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Stack ``(k_i, C)`` frame sequences into ``(N, k_max, C)`` zero-padded and a valid mask."""
    k_max = max(f.shape[0] for f in frames)
    out = frames[0].new_zeros(len(frames), k_max, frames[0].shape[-1])
    mask = torch.zeros(len(frames), k_max, dtype=torch.bool, device=frames[0].device)
    for i, f in enumerate(frames):
        out[i, : f.shape[0]] = f
        mask[i, : f.shape[0]] = True
    return out, mask


WindowFn = Callable[[Tensor], Tensor]
PoolFn = Callable[[Tensor, Tensor], Tensor]


class StreamingSession:
    """Push-to-talk encoder: full chunks are encoded while audio arrives, the tail at release.

    ``encode(mel (1, n_mels, T), None, offsets)`` gives a window's encoder frames; ``window_fn``
    maps its kept frames ``(k, C)`` to head frames ``(k, W)`` (run right away, while talking);
    ``pool((1, T, W), mask)`` gives the embedding at release. ``extras`` (name → window_fn,
    pool) are further heads on the same encoder frames (e.g. the question head); ``finish``
    leaves their results in :attr:`outputs`. Calls are serialised by a lock, so ``push`` may
    run on the audio thread and ``finish`` on another.
    """

    def __init__(
        self,
        encode: EncodeFn,
        window_fn: WindowFn,
        pool: PoolFn,
        config: ChunkingConfig,
        mel_fn: MelFn | None = None,
        extras: dict[str, tuple[WindowFn, PoolFn]] | None = None,
    ) -> None:
        self._encode = encode
        self._window_fn = window_fn
        self._pool = pool
        self._extras = dict(extras or {})
        self.config = config
        self._mel_fn = mel_fn or default_mel_fn()
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the current utterance."""
        self._audio = np.zeros(self.config.chunk_samples * 8, dtype=np.float32)
        self._n = 0
        self._frames: list[Tensor] = []
        self._extra_frames: dict[str, list[Tensor]] = {name: [] for name in self._extras}
        self.outputs: dict[str, Tensor] = {}
        self._next_chunk = 0
        self.windows_encoded = 0
        self.frames_encoded = 0

    @property
    def n_samples(self) -> int:
        return self._n

    def _append(self, samples: np.ndarray) -> None:
        need = self._n + len(samples)
        if need > len(self._audio):
            grown = np.zeros(max(need, 2 * len(self._audio)), dtype=np.float32)
            grown[: self._n] = self._audio[: self._n]
            self._audio = grown
        self._audio[self._n : need] = samples
        self._n = need

    def _encode_window(self, window: Window) -> tuple[Tensor, dict[str, Tensor]]:
        feats = window_features(window, self._audio, self._mel_fn, self.config.absolute_positions)
        (frames,) = encode_windows(self._encode, [feats])
        self.windows_encoded += 1
        self.frames_encoded += feats.mel.shape[-1]
        extra = {name: fn(frames) for name, (fn, _) in self._extras.items()}
        return self._window_fn(frames), extra

    def push(self, samples: np.ndarray) -> int:
        """Add audio; encode every chunk it completes. Returns the number of chunks encoded."""
        samples = as_mono_float(samples)
        with self._lock, torch.inference_mode():
            self._append(samples)
            done = 0
            c = self.config.chunk_samples
            while (self._next_chunk + 1) * c <= self._n:
                window = window_for_chunk(self._next_chunk, (self._next_chunk + 1) * c, self.config)
                head, extra = self._encode_window(window)
                self._frames.append(head)
                for name, x in extra.items():
                    self._extra_frames[name].append(x)
                self._next_chunk += 1
                done += 1
            return done

    def finish(self) -> Tensor:
        """Key release: encode the partial last chunk, pool; the embedding (CPU float32).

        Call :meth:`reset` before the next utterance.
        """
        with self._lock, torch.inference_mode():
            if self._n < MIN_SAMPLES:
                raise StreamingError("no speech recorded (key released too early)")
            frames = list(self._frames)
            extra_frames = {name: list(xs) for name, xs in self._extra_frames.items()}
            start = self._next_chunk * self.config.chunk_samples
            if self._n - start >= SAMPLES_PER_FRAME or not frames:
                window = window_for_chunk(self._next_chunk, self._n, self.config)
                head, extra = self._encode_window(window)
                frames.append(head)
                for name, x in extra.items():
                    extra_frames[name].append(x)
            self.outputs = {
                name: _pooled(pool, extra_frames[name]) for name, (_, pool) in self._extras.items()
            }
            return _pooled(self._pool, frames)


def _pooled(pool: PoolFn, frames: list[Tensor]) -> Tensor:
    """``pool`` over one utterance's window frames (CPU float32, batch dimension dropped)."""
    all_frames = torch.cat(frames, dim=0)[None]
    mask = torch.ones(all_frames.shape[:2], dtype=torch.bool, device=all_frames.device)
    return pool(all_frames, mask)[0].float().cpu()
