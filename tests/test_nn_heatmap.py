"""Heat maps: grid → volume mapping (any orientation) and the one heatmap() entry point."""

from __future__ import annotations

import numpy as np
import pytest

from radvoice.imaging.volume import Volume
from radvoice.nn.grid import ModelGrid, resample_to_grid
from radvoice.nn.grid_maps import argmax_index, grid_to_volume, interpolation_matrix
from radvoice.nn.heatmap import HeatmapError, pathology_index


def _blob_volume(direction: np.ndarray, shape=(40, 60, 50), spacing=(1.5, 1.2, 2.5)) -> Volume:
    arr = np.full(shape, -1000, np.int16)
    arr[25:31, 10:18, 30:38] = 500  # an off-centre bright box
    return Volume(array=arr, spacing=spacing, origin=(0.0, 0.0, 0.0), direction=direction)


@pytest.mark.parametrize(
    "direction",
    [
        np.eye(3),
        np.diag([-1.0, 1.0, -1.0]),
        np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]),  # permuted + flipped
    ],
)
def test_grid_to_volume_inverts_resampling(direction):
    vol = _blob_volume(direction)
    grid = ModelGrid(size=(64, 64, 32), spacing=(1.5, 1.5, 2.5))
    on_grid = (resample_to_grid(vol, grid)[0].numpy() + 1) / 2
    back = grid_to_volume(on_grid, vol, grid)
    assert back.shape == vol.array.shape
    # the brightest voxel after the round trip lies inside the box in the volume's own order
    k, j, i = argmax_index(back)
    assert vol.array[k, j, i] == 500
    inside = back[vol.array == 500].mean()
    outside = back[vol.array != 500].mean()
    assert inside > 0.6 and outside < 0.05


def test_coarse_map_covers_the_same_field_of_view():
    vol = _blob_volume(np.eye(3))
    grid = ModelGrid(size=(64, 64, 32), spacing=(1.5, 1.5, 2.5))
    fine = (resample_to_grid(vol, grid)[0] + 1) / 2
    coarse = fine.reshape(16, 2, 16, 4, 16, 4).mean(dim=(1, 3, 5)).numpy()
    back = grid_to_volume(coarse, vol, grid)
    assert vol.array[argmax_index(back)] == 500


def test_interpolation_matrix_rows_outside_are_zero():
    m = interpolation_matrix(4, 3, np.array([-2.0, 0.0, 1.5, 5.0]))
    assert m[0].sum() == 0 and m[3].sum() == 0
    np.testing.assert_allclose(m[1], [1, 0, 0])
    np.testing.assert_allclose(m[2], [0, 0.5, 0.5])


def test_unknown_pathology_is_one_line_error():
    with pytest.raises(HeatmapError, match="unknown pathology"):
        pathology_index("Broken leg")
    assert pathology_index("Lung nodule") >= 0
