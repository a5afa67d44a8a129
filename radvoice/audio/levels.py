"""Level metering (RMS and peak in dBFS) and clipping detection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOOR_DBFS = -100.0
CLIP_LEVEL = 0.99  # |x| at or above this counts as a clipped sample (full scale is 1.0)
CLIP_MIN_SAMPLES = 3  # fewer clipped samples than this in a window is not reported


def to_dbfs(amplitude: float) -> float:
    """Amplitude (1.0 = full scale) to dBFS, floored at -100 dBFS."""
    if amplitude <= 10 ** (FLOOR_DBFS / 20):
        return FLOOR_DBFS
    return 20.0 * math.log10(amplitude)


def rms(samples: np.ndarray) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def peak(samples: np.ndarray) -> float:
    return float(np.max(np.abs(samples))) if samples.size else 0.0


def count_clipped(samples: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL))


@dataclass(frozen=True)
class Level:
    """One meter reading over a short window."""

    rms_dbfs: float
    peak_dbfs: float
    clipped: bool
    time: float  # time.monotonic() when the window closed


class LevelMeter:
    """Accumulates samples and yields a :class:`Level` every ``1 / rate_hz`` seconds of audio."""

    def __init__(self, sample_rate: int, rate_hz: float = 25.0) -> None:
        self.window = max(1, int(round(sample_rate / rate_hz)))
        self._reset()

    def _reset(self) -> None:
        self._count = 0
        self._sumsq = 0.0
        self._peak = 0.0
        self._clipped = 0

    def add(self, samples: np.ndarray, now: float) -> list[Level]:
        """Add mono samples; return the readings of the windows that closed."""
        readings: list[Level] = []
        pos = 0
        while pos < samples.size:
            take = min(self.window - self._count, samples.size - pos)
            part = samples[pos : pos + take]
            self._sumsq += float(np.sum(np.square(part, dtype=np.float64)))
            self._peak = max(self._peak, peak(part))
            self._clipped += count_clipped(part)
            self._count += take
            pos += take
            if self._count >= self.window:
                readings.append(
                    Level(
                        rms_dbfs=to_dbfs(math.sqrt(self._sumsq / self._count)),
                        peak_dbfs=to_dbfs(self._peak),
                        clipped=self._clipped >= CLIP_MIN_SAMPLES,
                        time=now,
                    )
                )
                self._reset()
        return readings
