"""Model grid: canonical re-orientation keeps world positions; resampling puts anatomy where
it belongs whatever the input orientation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radvoice.imaging.volume import Volume
from radvoice.nn.grid import GridError, ModelGrid, normalize_hu, resample_to_grid, to_canonical


def _volume_with_point(direction: np.ndarray, lps_point: np.ndarray) -> Volume:
    """A 40x30x20 air volume with a bright 3x3x3 cube centred on ``lps_point``."""
    shape = (20, 30, 40)
    spacing = (2.0, 3.0, 4.0)
    # choose the origin so that the volume centre is at LPS (0, 0, 0)
    size = np.array([40, 30, 20])
    centre_index = (size - 1) / 2
    origin = -direction @ (centre_index * np.array(spacing))
    vol = Volume(
        np.full(shape, -1000, np.int16), spacing=spacing, origin=tuple(origin), direction=direction
    )
    ijk = np.rint(vol.lps_to_index(lps_point)).astype(int)
    i, j, k = ijk
    vol.array[k - 1 : k + 2, j - 1 : j + 2, i - 1 : i + 2] = 1000
    return vol


DIRECTIONS = {
    "lps": np.eye(3),
    "ras": np.diag([-1.0, -1.0, 1.0]),
    "flipped_z": np.diag([1.0, 1.0, -1.0]),
    "permuted": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]),
}


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_canonical_keeps_world_positions(name: str) -> None:
    point = np.array([12.0, -18.0, 20.0])
    vol = _volume_with_point(DIRECTIONS[name], point)
    k0, j0, i0 = np.argwhere(vol.array == 1000).mean(axis=0)
    point = vol.index_to_lps((i0, j0, k0))  # the voxel centre nearest the requested point
    canon = to_canonical(vol)
    assert np.allclose(canon.direction, np.eye(3))
    k, j, i = np.argwhere(canon.array == 1000).mean(axis=0)
    assert np.allclose(canon.index_to_lps((i, j, k)), point, atol=1e-6)


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_resample_places_point_in_lps_grid(name: str) -> None:
    grid = ModelGrid(size=(32, 32, 16), spacing=(4.0, 4.0, 6.0))
    point = np.array([12.0, -18.0, 20.0])
    out = resample_to_grid(_volume_with_point(DIRECTIONS[name], point), grid)
    assert out.shape == (1, 16, 32, 32)
    assert out.dtype == torch.float32
    assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
    z, y, x = np.unravel_index(int(torch.argmax(out[0])), out.shape[1:])
    # the grid is centred on the volume centre (LPS origin here), axes along +L, +P, +S
    expected = point / np.array(grid.spacing) + (np.array(grid.size) - 1) / 2
    assert abs(x - expected[0]) <= 1.0
    assert abs(y - expected[1]) <= 1.0
    assert abs(z - expected[2]) <= 1.0


def test_outside_scan_is_air_and_hu_scaling() -> None:
    vol = Volume(np.zeros((4, 8, 8), np.int16), spacing=(1.0, 1.0, 1.0))
    out = resample_to_grid(vol, ModelGrid(size=(16, 16, 8), spacing=(2.0, 2.0, 2.0)))
    assert torch.isclose(out[0, 4, 8, 8], torch.tensor(0.0), atol=1e-5)  # 0 HU -> 0
    assert torch.isclose(out[0, 0, 0, 0], torch.tensor(-1.0))  # outside -> air
    assert torch.allclose(
        normalize_hu(np.array([-3000, -1000, 0, 1000, 3000])),
        torch.tensor([-1.0, -1.0, 0.0, 1.0, 1.0]),
    )


def test_anti_aliasing_block_mean() -> None:
    """A fine checkerboard averages to its mean instead of aliasing."""
    arr = np.where((np.indices((16, 64, 64)).sum(0) % 2) == 0, 1000, -1000).astype(np.int16)
    vol = Volume(arr, spacing=(0.5, 0.5, 1.0))
    out = resample_to_grid(vol, ModelGrid(size=(8, 8, 4), spacing=(4.0, 4.0, 4.0)))
    assert float(out.abs().max()) < 0.15


def test_degenerate_direction_is_a_clear_error() -> None:
    vol = Volume(np.zeros((2, 2, 2), np.int16), direction=np.zeros((3, 3)))
    with pytest.raises(GridError):
        resample_to_grid(vol)


@pytest.mark.parametrize("spacing", [(0.7, 0.7, 0.6), (1.1, 1.1, 5.0), (4.0, 4.0, 4.0)])
def test_slab_pooling_equals_pooling_the_whole_volume(monkeypatch, spacing) -> None:
    """resample_to_grid pools a z-slab at a time (no float32 copy of the whole volume): the
    result is the same, to the bit, as one pass over the whole volume."""
    import radvoice.nn.grid as grid_mod

    rng = np.random.default_rng(4)
    arr = rng.integers(-1200, 1500, size=(67, 90, 80)).astype(np.int16)
    volume = Volume(arr, spacing=spacing, direction=np.diag([-1.0, 1.0, -1.0]))
    monkeypatch.setattr(grid_mod, "SLAB_BYTES", 2**40)
    whole = grid_mod.resample_to_grid(volume)
    monkeypatch.setattr(grid_mod, "SLAB_BYTES", 3 * 4 * 90 * 80)  # a few slices per slab
    assert torch.equal(grid_mod.resample_to_grid(volume), whole)
