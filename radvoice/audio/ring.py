"""A fixed-capacity ring buffer of float32 samples (the pre-roll before a press)."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Keeps the most recent ``capacity`` samples."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("ring buffer capacity must be positive")
        self._data = np.zeros(capacity, np.float32)
        self._write = 0
        self._filled = 0

    @property
    def capacity(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        return self._filled

    def clear(self) -> None:
        self._write = 0
        self._filled = 0

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, np.float32).reshape(-1)
        cap = self._data.size
        if samples.size >= cap:
            self._data[:] = samples[-cap:]
            self._write = 0
            self._filled = cap
            return
        end = self._write + samples.size
        if end <= cap:
            self._data[self._write : end] = samples
        else:
            split = cap - self._write
            self._data[self._write :] = samples[:split]
            self._data[: end - cap] = samples[split:]
        self._write = end % cap
        self._filled = min(cap, self._filled + samples.size)

    def latest(self, n: int) -> np.ndarray:
        """A copy of the last ``min(n, len(self))`` samples, oldest first."""
        n = max(0, min(n, self._filled))
        start = (self._write - n) % self._data.size
        if start + n <= self._data.size:
            return self._data[start : start + n].copy()
        return np.concatenate([self._data[start:], self._data[: (start + n) % self._data.size]])
