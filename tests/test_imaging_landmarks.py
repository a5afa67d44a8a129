"""The lung crosshair: every slice through it shows lung, on both real CTs."""

from __future__ import annotations

import numpy as np
import pytest

from radvoice.imaging import Volume, read_volume
from radvoice.imaging.landmarks import lung_crosshair


@pytest.mark.realct
@pytest.mark.parametrize("name", ["lung1", "lung2"])
def test_crosshair_slices_all_cut_lung(real_ct_dir, name: str) -> None:
    volume = read_volume(real_ct_dir / f"{name}_image.nrrd")
    i, j, k = lung_crosshair(volume)
    arr = volume.array
    lung = (arr >= -1000) & (arr <= -400)
    centre_i = volume.size_xyz[0] // 2
    # each of the three slices through the crosshair holds a lot of lung...
    assert lung[k].mean() > 0.15
    assert lung[:, j, :].mean() > 0.10
    assert lung[:, :, i].mean() > 0.10
    # ...and the sagittal one much more than the mid-sagittal plane (mediastinum)
    assert lung[:, :, i].mean() > 1.5 * lung[:, :, centre_i].mean()
    assert -1000 <= volume.hu_at(i, j, k) <= -400


def test_no_lung_gives_none() -> None:
    body = np.full((8, 64, 64), -1000, np.int16)
    body[:, 8:56, 8:56] = 40  # a water phantom: no enclosed air
    assert lung_crosshair(Volume(body)) is None
