"""Is this a chest CT the model can speak about? The out-of-domain answer.

Two checks, both cheap, before any finding is called:

* :func:`chest_ct_check` — from the HU image alone on the model grid: Hounsfield units at all
  (air at −1000 and no MR-like range), a body, and two lungs of chest-CT size that fill a good
  part of the body's cross-section somewhere. A head, a limb, an abdomen with only lung bases or
  an MR volume fails with a one-line reason.
* :class:`EmbeddingDomain` — how typical the CT embedding is of the training cases: a
  Mahalanobis distance in the principal subspace of the training embeddings, turned into the
  fraction of held-out training cases that lie further out (1.0 typical, → 0 unlike anything
  trained on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import ndimage

from radvoice.imaging.volume import Volume
from radvoice.nn.grid import ModelGrid, resample_to_grid

CHECK_GRID = ModelGrid(size=(96, 96, 64), spacing=(4.0, 4.0, 5.0), hu_min=-1024.0, hu_max=3071.0)
MIN_LUNG_ML = 900.0  # both lungs together, partial coverage included
MIN_LUNG_SPAN_MM = 60.0
MIN_LUNG_BODY_FRACTION = 0.2  # lungs / body cross-section in the best slice
MIN_IN_DISTRIBUTION = 0.002


@dataclass
class DomainAnswer:
    chest_ct: bool
    in_distribution: float
    message: str

    @property
    def ok(self) -> bool:
        return self.chest_ct and self.in_distribution >= MIN_IN_DISTRIBUTION

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChestCheck:
    chest_ct: bool
    reason: str
    lung_ml: float = 0.0
    lung_span_mm: float = 0.0
    lung_body_fraction: float = 0.0


def _hu_on_check_grid(volume: Volume) -> np.ndarray:
    t = resample_to_grid(volume, CHECK_GRID)[0].numpy()
    return (t + 1.0) * (0.5 * (CHECK_GRID.hu_max - CHECK_GRID.hu_min)) + CHECK_GRID.hu_min


def chest_ct_check(volume: Volume) -> ChestCheck:
    """Decide from the image whether ``volume`` is a chest CT (see the module docstring)."""
    modality = str(getattr(volume, "modality", "") or volume.meta.get("Modality", "") or "CT")
    if modality.upper() not in ("CT", ""):
        return ChestCheck(False, f"not a CT: the modality is {modality}")
    raw = np.asarray(volume.array)
    if float(np.percentile(raw, 1)) > -700 or float(raw.max()) < 100:
        return ChestCheck(False, "not a CT in Hounsfield units (no air near −1000 HU)")
    hu = _hu_on_check_grid(volume)
    body = ndimage.binary_opening(hu > -400, iterations=1)
    lab, n = ndimage.label(body)
    if n == 0:
        return ChestCheck(False, "no body found in the volume")
    sizes = ndimage.sum_labels(body, lab, index=np.arange(1, n + 1))
    body = lab == (1 + int(np.argmax(sizes)))
    body = np.stack([ndimage.binary_fill_holes(s) for s in body])
    air = ndimage.binary_opening((hu < -400) & body, iterations=1)
    lab, n = ndimage.label(air)
    lungs = np.zeros_like(air)
    if n:
        sizes = ndimage.sum_labels(air, lab, index=np.arange(1, n + 1))
        for i in np.argsort(sizes)[::-1][:2]:
            lungs |= lab == (i + 1)
    voxel_ml = float(np.prod(CHECK_GRID.spacing)) / 1000.0
    lung_ml = float(lungs.sum()) * voxel_ml
    z_slices = np.nonzero(lungs.any(axis=(1, 2)))[0]
    span = float(len(z_slices) * CHECK_GRID.spacing[2])
    body_area = np.maximum(body.sum(axis=(1, 2)), 1)
    frac = float((lungs.sum(axis=(1, 2)) / body_area).max()) if lungs.any() else 0.0
    out = ChestCheck(True, "chest CT", lung_ml, span, frac)
    if lung_ml < MIN_LUNG_ML or span < MIN_LUNG_SPAN_MM or frac < MIN_LUNG_BODY_FRACTION:
        out.chest_ct = False
        out.reason = (
            f"not a chest CT: no lungs of chest-CT size found ({lung_ml:.0f} mL of air-filled "
            f"lung over {span:.0f} mm; a head, limb or abdomen-only scan?)"
        )
    return out


class EmbeddingDomain:
    """Typicality of a CT embedding among the training cases' embeddings."""

    def __init__(
        self,
        mean: np.ndarray,
        components: np.ndarray,
        scales: np.ndarray,
        reference: np.ndarray,
    ) -> None:
        self.mean = np.asarray(mean, np.float32)
        self.components = np.asarray(components, np.float32)  # (k, D)
        self.scales = np.asarray(scales, np.float32)  # (k,) standard deviations
        self.reference = np.sort(np.asarray(reference, np.float32))  # held-out distances

    @classmethod
    def fit(cls, train: np.ndarray, held_out: np.ndarray, k: int = 16) -> EmbeddingDomain:
        mean = train.mean(axis=0)
        _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
        k = min(k, vt.shape[0])
        scales = s[:k] / np.sqrt(max(1, len(train) - 1)) + 1e-6
        dom = cls(mean, vt[:k], scales, np.zeros(0))
        dom.reference = np.sort(dom.distance(held_out))
        return dom

    def distance(self, embeddings: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(embeddings) - self.mean) @ self.components.T / self.scales
        return np.sqrt((z**2).mean(axis=1))

    def score(self, embedding: np.ndarray) -> float:
        """Fraction of held-out training cases at least as far out (with a +1 prior)."""
        d = float(self.distance(embedding)[0])
        further = len(self.reference) - int(np.searchsorted(self.reference, d, side="left"))
        return (further + 1) / (len(self.reference) + 1)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "domain.mean": torch.from_numpy(self.mean),
            "domain.components": torch.from_numpy(self.components),
            "domain.scales": torch.from_numpy(self.scales),
            "domain.reference": torch.from_numpy(self.reference),
        }

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor]) -> EmbeddingDomain | None:
        keys = ("domain.mean", "domain.components", "domain.scales", "domain.reference")
        if not all(k in t for k in keys):
            return None
        return cls(*(t[k].float().numpy() for k in keys))


def domain_answer(check: ChestCheck, in_distribution: float) -> DomainAnswer:
    if not check.chest_ct:
        return DomainAnswer(False, float(in_distribution), check.reason)
    if in_distribution < MIN_IN_DISTRIBUTION:
        return DomainAnswer(
            True,
            float(in_distribution),
            "a chest CT unlike the cases the model was trained on: no findings are called",
        )
    return DomainAnswer(True, float(in_distribution), "chest CT")
