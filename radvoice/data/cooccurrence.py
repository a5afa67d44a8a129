"""Label prevalence and co-occurrence: a latent Gaussian factor model calibrated to CT-RATE.

Each case draws a few clinical factors (overall illness, atherosclerosis/age, cardiac/fluid,
infection/airspace, small airways, fibrosis); label ``i`` is positive when its latent score
``z_i = L_i . f + sqrt(1 - |L_i|^2) e_i`` (standard normal) exceeds ``Phi^-1(1 - p_i)``, so the
marginal prevalence is exactly ``p_i`` while shared factors create realistic co-occurrence and
a share of completely normal cases.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from radvoice.labels import PATHOLOGIES

# Approximate CT-RATE training-set prevalences (multi_abnormality_labels; see
# docs/label_statistics.md for their provenance).
CTRATE_PREVALENCE: dict[str, float] = {
    "Medical material": 0.124,
    "Arterial wall calcification": 0.284,
    "Cardiomegaly": 0.110,
    "Pericardial effusion": 0.075,
    "Coronary artery wall calcification": 0.261,
    "Hiatal hernia": 0.143,
    "Lymphadenopathy": 0.256,
    "Emphysema": 0.199,
    "Atelectasis": 0.258,
    "Lung nodule": 0.454,
    "Lung opacity": 0.398,
    "Pulmonary fibrotic sequela": 0.270,
    "Pleural effusion": 0.120,
    "Mosaic attenuation pattern": 0.079,
    "Peribronchial thickening": 0.104,
    "Consolidation": 0.171,
    "Bronchiectasis": 0.101,
    "Interlobular septal thickening": 0.078,
}

FACTORS = ("illness", "atherosclerosis", "cardiac", "infection", "airway", "fibrosis")
_LOADINGS: dict[str, tuple[float, ...]] = {
    "Medical material": (0.45, 0.3, 0.3, 0, 0, 0),
    "Arterial wall calcification": (0.45, 0.7, 0, 0, 0, 0),
    "Cardiomegaly": (0.45, 0.3, 0.55, 0, 0, 0),
    "Pericardial effusion": (0.45, 0, 0.6, 0, 0, 0),
    "Coronary artery wall calcification": (0.45, 0.7, 0, 0, 0, 0),
    "Hiatal hernia": (0.4, 0.35, 0, 0, 0, 0),
    "Lymphadenopathy": (0.5, 0, 0.2, 0.35, 0, 0),
    "Emphysema": (0.5, 0.3, 0, 0, 0.35, 0),
    "Atelectasis": (0.5, 0, 0.3, 0.4, 0, 0),
    "Lung nodule": (0.55, 0, 0, 0, 0, 0),
    "Lung opacity": (0.55, 0, 0, 0.5, 0, 0.2),
    "Pulmonary fibrotic sequela": (0.5, 0, 0, 0, 0, 0.55),
    "Pleural effusion": (0.45, 0, 0.55, 0.3, 0, 0),
    "Mosaic attenuation pattern": (0.45, 0, 0, 0, 0.5, 0),
    "Peribronchial thickening": (0.45, 0, 0, 0, 0.6, 0),
    "Consolidation": (0.45, 0, 0, 0.65, 0, 0),
    "Bronchiectasis": (0.45, 0, 0, 0, 0.5, 0.3),
    "Interlobular septal thickening": (0.45, 0, 0.35, 0, 0, 0.45),
}
LOADINGS = np.array([_LOADINGS[name] for name in PATHOLOGIES])
PREVALENCE = np.array([CTRATE_PREVALENCE[name] for name in PATHOLOGIES])
THRESHOLDS = norm.ppf(1.0 - PREVALENCE)
_RESIDUAL = np.sqrt(1.0 - np.sum(LOADINGS**2, axis=1))


def sample_labels(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Binary labels, shape ``(18,)`` (or ``(n, 18)``), in :data:`PATHOLOGIES` order."""
    m = 1 if n is None else n
    f = rng.standard_normal((m, len(FACTORS)))
    e = rng.standard_normal((m, len(PATHOLOGIES)))
    z = f @ LOADINGS.T + e * _RESIDUAL
    labels = (z > THRESHOLDS).astype(np.int8)
    return labels[0] if n is None else labels
