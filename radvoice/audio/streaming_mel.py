"""Incremental Whisper log-mel on arbitrary-size chunks.

Frame ``t`` is centred on sample ``160 t`` and covers samples ``[160 t - 200, 160 t + 200)`` of
the signal, reflect-padded by 200 samples at both ends (``torch.stft(center=True)``). So:

* Lookahead: a frame is produced as soon as its 25 ms window is complete, i.e. 200 samples
  (12.5 ms, 1.25 hops) after its centre. The first frame also needs sample 200 for the left
  reflection (201 samples in all).
* End of utterance: the last frames reach past the final sample; their right reflection is
  only known once the utterance ends, so :meth:`StreamingLogMel.finish` computes them (and
  applies Whisper's optional zero ``padding``). The total is ``len // 160`` frames, like the
  whole-utterance function.
* Global max clamp: Whisper floors every value at ``max - 8`` where ``max`` is taken over the
  whole utterance, which a stream cannot know in advance. The raw ``log10`` frames are exactly
  those of the whole utterance; the frames returned by :meth:`push` are floored with the running
  max so far (identical to the final ones whenever the running max already equals the final
  max, the usual case once the loudest syllable has passed; otherwise a few very quiet values
  differ). :meth:`log_mel` re-floors every frame with the current max: after :meth:`finish` it
  equals :func:`radvoice.audio.mel.log_mel_spectrogram` of the whole signal.
"""

from __future__ import annotations

import numpy as np
import torch

from radvoice.audio.errors import AudioError
from radvoice.audio.mel import (
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    as_tensor,
    hann_window,
    log_power_to_mel,
    scale_log_mel,
)

HALF = N_FFT // 2


class StreamingLogMel:
    """Feed 16 kHz mono chunks with :meth:`push`; call :meth:`finish` at the end."""

    def __init__(self, n_mels: int = N_MELS) -> None:
        self.n_mels = n_mels
        self.reset()

    def reset(self) -> None:
        """Forget everything (start a new utterance)."""
        self._buf = torch.zeros(0, dtype=torch.float32)
        self._buf_start = 0  # absolute index of self._buf[0]
        self._head = torch.zeros(0, dtype=torch.float32)  # x[0..200] for the left reflection
        self._n = 0
        self._next = 0
        self._raw: list[torch.Tensor] = []
        self._max = -float("inf")
        self._finished = False

    @property
    def n_samples(self) -> int:
        return self._n

    @property
    def n_frames(self) -> int:
        return self._next

    @property
    def running_max(self) -> float:
        """The largest raw log10 mel value seen so far (``-inf`` before the first frame)."""
        return self._max

    def push(self, chunk: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Add samples; return the frames that became complete ``(n_mels, k)`` (k may be 0)."""
        if self._finished:
            raise AudioError("streaming log-mel already finished; call reset() first")
        samples = as_tensor(chunk)
        if samples.numel():
            self._buf = torch.cat([self._buf, samples])
            if self._head.numel() <= HALF:
                self._head = torch.cat([self._head, samples[: HALF + 1 - self._head.numel()]])
            self._n += samples.numel()
        ready = (self._n - HALF) // HOP_LENGTH + 1 if self._n > HALF else 0
        return self._emit(ready, total=None)

    def finish(self, padding: int = 0) -> torch.Tensor:
        """Append ``padding`` zeros, end the stream and return the remaining frames."""
        if self._finished:
            return torch.zeros(self.n_mels, 0)
        if padding > 0:
            self.push(torch.zeros(padding))
        if self._n <= HALF:
            raise AudioError(f"audio too short for a spectrogram ({self._n} samples)")
        self._finished = True
        return self._emit(self._n // HOP_LENGTH, total=self._n)

    def log_mel(self) -> torch.Tensor:
        """All frames so far, floored with the current max ``(n_mels, n_frames)``."""
        if not self._raw:
            return torch.zeros(self.n_mels, 0)
        return scale_log_mel(torch.cat(self._raw, dim=1), self._max)

    def _sample_indices(self, lo: int, hi: int, total: int | None) -> torch.Tensor:
        idx = torch.arange(lo, hi)
        idx = idx.abs()  # left reflection: x[-k] = x[k]
        if total is not None:
            over = idx >= total
            idx[over] = 2 * (total - 1) - idx[over]  # right reflection
        return idx

    def _gather(self, idx: torch.Tensor) -> torch.Tensor:
        out = torch.empty(idx.numel(), dtype=torch.float32)
        in_buf = idx >= self._buf_start
        out[in_buf] = self._buf[idx[in_buf] - self._buf_start]
        out[~in_buf] = self._head[idx[~in_buf]]
        return out

    def _emit(self, upto: int, total: int | None) -> torch.Tensor:
        if upto <= self._next:
            return torch.zeros(self.n_mels, 0)
        lo = self._next * HOP_LENGTH - HALF
        hi = (upto - 1) * HOP_LENGTH + HALF
        segment = self._gather(self._sample_indices(lo, hi, total))
        stft = torch.stft(
            segment, N_FFT, HOP_LENGTH, window=hann_window(), center=False, return_complex=True
        )
        raw = log_power_to_mel(stft.abs() ** 2, self.n_mels)
        self._raw.append(raw)
        self._max = max(self._max, float(raw.max()))
        self._next = upto
        keep_from = max(0, self._next * HOP_LENGTH - HALF)
        if keep_from > self._buf_start:
            self._buf = self._buf[keep_from - self._buf_start :].clone()
            self._buf_start = keep_from
        return scale_log_mel(raw, self._max)
