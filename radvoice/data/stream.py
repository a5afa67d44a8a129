"""On-the-fly synthetic cases for training: a torch ``IterableDataset`` (no storage).

Each DataLoader worker generates a disjoint, deterministic share of the indices
``start, start+1, ...`` (worker ``w`` of ``W`` takes ``start + w + k*W``), so the stream is
the same whatever the number of workers, up to order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from radvoice.data.synth import generate_case


class SyntheticCaseStream(IterableDataset):
    """Yields dicts: ``volume`` (int16 ndarray (nz, ny, nx)), ``labels`` (int8 (18,)),
    ``report``, ``case_id``, ``spacing``; ``length`` None streams forever."""

    def __init__(self, seed: int, start: int = 0, length: int | None = None, **case_kwargs: Any):
        super().__init__()
        self.seed, self.start, self.length = seed, start, length
        self.case_kwargs = case_kwargs

    def _indices(self) -> Iterator[int]:
        info = get_worker_info()
        wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
        i = self.start + wid
        stop = None if self.length is None else self.start + self.length
        while stop is None or i < stop:
            yield i
            i += n

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in self._indices():
            case = generate_case(self.seed, i, **self.case_kwargs)
            yield {
                "volume": case.volume.array,
                "labels": case.labels.astype(np.int8),
                "report": case.report.findings + " " + case.report.impression,
                "case_id": case.case_id,
                "spacing": torch.tensor(case.volume.spacing),
            }
