"""Scanner effects: partial volume of the slice profile, blur and correlated quantum noise."""

from __future__ import annotations

import numpy as np

from radvoice.data.phantom.filters import gaussian_filter
from radvoice.data.phantom.grid import Grid


def scanner_finish(
    hu: np.ndarray,
    grid: Grid,
    rng: np.random.Generator,
    noise_std: float,
    thickness: float | None = None,
) -> np.ndarray:
    """Blur with the in-plane PSF and the slice profile, then add correlated noise.

    ``noise_std`` is the soft-tissue noise std (HU) after filtering; noise is white Gaussian
    blurred by about one voxel (CT noise is correlated by the reconstruction kernel).
    Works in place on float32 ``hu`` and returns it.
    """
    sx, _sy, sz = grid.spacing
    thickness = thickness or sz
    sig_xy = max(0.35, 0.45 / sx)
    sig_z = max(0.3, 0.42 * thickness / sz)
    hu[...] = gaussian_filter(hu, (sig_z, sig_xy, sig_xy), truncate=2.5)
    noise = rng.standard_normal(hu.shape, dtype=np.float32)
    corr = 0.8
    noise = gaussian_filter(noise, (0.4, corr, corr), truncate=2.5)
    # std of white noise after a separable Gaussian filter
    gain = 1.0
    for s in (0.4, corr, corr):
        gain *= 1.0 / np.sqrt(2.0 * np.sqrt(np.pi) * s)
    noise *= noise_std / gain
    hu += noise
    return hu
