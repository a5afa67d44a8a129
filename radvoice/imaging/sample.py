"""The embedded default case: lung1 from the pyradiomics test data, reduced to 256x256 in-plane.

``sample_case_path()`` is what the viewer opens when no file is given. The file is built once
from the real CT with ``python -m radvoice.imaging.sample SOURCE.nrrd DEST.nrrd`` (see
``resources/sample/PROVENANCE.md``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from radvoice.imaging.errors import MissingPathError
from radvoice.imaging.volume import Volume

SAMPLE_NAME = "lung1_256.nrrd"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "resources" / "sample"


def sample_case_path() -> Path:
    """Path of the embedded sample chest CT (gzip NRRD, LPS, int16 HU)."""
    path = SAMPLE_DIR / SAMPLE_NAME
    if not path.is_file():
        raise MissingPathError(f"the sample case is missing: {path} (reinstall RadVoice)")
    return path


def downsample_inplane(volume: Volume, factor: int = 2) -> Volume:
    """Average ``factor x factor`` blocks in each slice (a box filter, no aliasing); keep slices.

    The origin moves to the centre of the first block, so physical positions are unchanged.
    """
    nz, ny, nx = volume.shape
    ny2, nx2 = ny // factor, nx // factor
    arr = volume.array[:, : ny2 * factor, : nx2 * factor].astype(np.float32)
    arr = arr.reshape(nz, ny2, factor, nx2, factor).mean(axis=(2, 4))
    sx, sy, sz = volume.spacing
    shift = (factor - 1) / 2.0
    origin = volume.index_to_lps((shift, shift, 0.0))
    return Volume(
        np.rint(arr).astype(np.int16),
        spacing=(sx * factor, sy * factor, sz),
        origin=tuple(origin),
        direction=volume.direction,
        modality=volume.modality,
        meta=dict(volume.meta),
        source=volume.source,
    )


def build_sample(source: str | Path, dest: str | Path, factor: int = 2) -> Path:
    """Write the reduced sample case from the full-resolution CT."""
    from radvoice.imaging.itk_io import read_itk, write_volume

    small = downsample_inplane(read_itk(Path(source)), factor)
    return write_volume(small, dest)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m radvoice.imaging.sample SOURCE.nrrd DEST.nrrd")
    print(build_sample(sys.argv[1], sys.argv[2]))
