"""Orientation codes such as ``LPS`` from a direction matrix."""

from __future__ import annotations

import numpy as np

_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


def orientation_code(direction: np.ndarray) -> str:
    """Three letters naming where the i, j, k axes point, in patient terms.

    The convention of DICOM, NIfTI (nibabel) and 3D Slicer: each letter is the side an axis
    points *towards*, so the identity in LPS is ``"LPS"`` and a NIfTI in RAS is ``"RAS"``.
    (ITK's ``RAI`` names the same identity by where axes come *from*.) Oblique axes take
    the letter of their largest component.
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    code = []
    for axis in range(3):
        col = d[:, axis]
        dominant = int(np.argmax(np.abs(col)))
        code.append(_LETTERS[dominant][1 if col[dominant] > 0 else 0])
    return "".join(code)
