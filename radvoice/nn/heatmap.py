"""Where the CT model looks: one heat map per pathology, in the volume's own grid.

``heatmap(volume, pathology)`` is the one function the viewer, the CLI and the DICOM export use.
An encoder with a dense head (the grounded encoder, :mod:`radvoice.nn.grounded`) gives its
per-voxel probability of the finding directly; an encoder without one (the first CNN teacher)
gets Grad-CAM on its next-to-last stage for the pathology's zero-shot logit (present vs absent
prompt), rescaled to [0, 1].
"""

from __future__ import annotations

import threading

import numpy as np

from radvoice.nn.attribution import HeatmapError, gradcam_grid, pathology_index
from radvoice.nn.pipeline import RadVoiceModels

__all__ = ["HeatmapError", "gradcam_grid", "heatmap", "pathology_index"]

_default = None
_default_lock = threading.Lock()


def heatmap(volume, pathology: str, models=None) -> np.ndarray:
    """float32 map in ``volume.array``'s shape, values in [0, 1], for ``pathology``."""
    if models is None:
        global _default
        with _default_lock:
            if _default is None:
                _default = RadVoiceModels()
        models = _default
    return models.heatmap(volume, pathology)
