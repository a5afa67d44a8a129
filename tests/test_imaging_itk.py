"""NIfTI/NRRD/MHA reading and writing, the sample case, orientation codes, typed errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from radvoice.errors import RadVoiceError
from radvoice.imaging import (
    CorruptFileError,
    EmptyInputError,
    MissingPathError,
    TooLargeError,
    UnsupportedFormatError,
    Volume,
    discover,
    orientation_code,
    read_volume,
    sample_case_path,
    write_volume,
)
from radvoice.imaging.sample import downsample_inplane


def _oblique() -> np.ndarray:
    """A right-handed rotation (about an oblique axis) with a flipped i axis mixed in."""
    a, b = np.radians(20), np.radians(-35)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx @ np.diag([-1.0, 1.0, 1.0])


@pytest.fixture()
def small() -> Volume:
    rng = np.random.default_rng(0)
    arr = rng.integers(-1024, 3000, size=(7, 9, 11), dtype=np.int16)
    return Volume(arr, (0.6, 0.7, 2.5), (-120.5, 33.25, -400.0), _oblique())


@pytest.mark.realct
def test_reads_lung1_nrrd(real_ct_dir: Path) -> None:
    vol = read_volume(real_ct_dir / "lung1_image.nrrd")
    assert vol.shape == (48, 512, 512) and vol.array.dtype == np.int16
    assert vol.spacing == pytest.approx((0.5703125, 0.5703125, 5.0))
    assert vol.origin == pytest.approx((-146.0, -325.0, -777.5))
    np.testing.assert_allclose(vol.direction, np.eye(3))
    assert (int(vol.array.min()), int(vol.array.max())) == (-1024, 3071)
    assert orientation_code(vol.direction) == "LPS"


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_round_trip_keeps_geometry(small: Volume, tmp_path: Path, suffix: str) -> None:
    path = write_volume(small, tmp_path / f"v{suffix}")
    back = read_volume(path)
    np.testing.assert_array_equal(back.array, small.array)
    np.testing.assert_allclose(back.spacing, small.spacing, atol=1e-5)
    np.testing.assert_allclose(back.origin, small.origin, atol=1e-4)
    np.testing.assert_allclose(back.direction, small.direction, atol=1e-5)
    assert orientation_code(back.direction) == orientation_code(small.direction)


def test_nifti_ras_header_is_converted_to_lps(tmp_path: Path) -> None:
    """A NIfTI stores RAS; a voxel at a known LPS point must come back at that point."""
    arr = np.zeros((5, 6, 7), np.int16)
    arr[3, 4, 5] = 1000
    vol = Volume(arr, (1.0, 2.0, 3.0), (10.0, 20.0, 30.0), np.diag([-1.0, -1.0, 1.0]))
    back = read_volume(write_volume(vol, tmp_path / "ras.nii.gz"))
    assert orientation_code(back.direction) == "RAS"
    lps = vol.index_to_lps((5, 4, 3))
    i, j, k = np.rint(back.lps_to_index(lps)).astype(int)
    assert back.hu_at(i, j, k) == 1000


def test_float_image_is_rounded_and_clipped(tmp_path: Path) -> None:
    img = sitk.GetImageFromArray(np.array([[[-40000.0, 12.6], [-3.4, 50000.0]]], np.float32))
    sitk.WriteImage(img, str(tmp_path / "f.mha"))
    vol = read_volume(tmp_path / "f.mha")
    assert vol.array.ravel().tolist() == [-32768, 13, -3, 32767]
    assert any("clipped" in w for w in vol.warnings)


def test_progress_reported(small: Volume, tmp_path: Path) -> None:
    calls: list[float] = []
    read_volume(write_volume(small, tmp_path / "p.nrrd"), progress=lambda f, m: calls.append(f))
    assert calls[0] == 0.0 and calls[-1] == 1.0


def test_too_large_refused(small: Volume, tmp_path: Path) -> None:
    path = write_volume(small, tmp_path / "big.nii.gz")
    with pytest.raises(TooLargeError, match="limit is"):
        read_volume(path, max_bytes=100)


def test_discover_image_file(small: Volume, tmp_path: Path) -> None:
    (info,) = discover(write_volume(small, tmp_path / "d.nrrd"))
    assert info.uid == "" and info.shape == small.shape and info.n_slices == 7


def test_sample_case() -> None:
    path = sample_case_path()
    assert path.suffix == ".nrrd" and path.stat().st_size <= 4 * 2**20
    assert (path.parent / "PROVENANCE.md").is_file()
    vol = read_volume(path)
    assert vol.shape == (48, 256, 256)
    assert vol.spacing == pytest.approx((1.140625, 1.140625, 5.0))
    assert orientation_code(vol.direction) == "LPS"


@pytest.mark.realct
def test_sample_is_lung1_downsampled(real_ct_dir: Path) -> None:
    expected = downsample_inplane(read_volume(real_ct_dir / "lung1_image.nrrd"))
    vol = read_volume(sample_case_path())
    np.testing.assert_array_equal(vol.array, expected.array)
    np.testing.assert_allclose(vol.origin, expected.origin, atol=1e-6)


def test_downsample_keeps_physical_positions() -> None:
    arr = np.arange(2 * 4 * 4, dtype=np.int16).reshape(2, 4, 4)
    vol = Volume(arr, (0.5, 0.5, 2.0), (0.0, 0.0, 0.0))
    half = downsample_inplane(vol)
    assert half.shape == (2, 2, 2) and half.spacing == (1.0, 1.0, 2.0)
    assert half.origin == pytest.approx((0.25, 0.25, 0.0))
    assert int(half.array[0, 0, 0]) == round(np.mean([0, 1, 4, 5]))


def test_orientation_codes() -> None:
    assert orientation_code(np.eye(3)) == "LPS"
    assert orientation_code(np.diag([-1, -1, 1])) == "RAS"
    assert orientation_code(np.diag([1, 1, -1])) == "LPI"
    coronal = np.array([[1, 0, 0], [0, 0, -1], [0, -1, 0]])
    assert orientation_code(coronal) == "LIA"


def test_missing_empty_unsupported(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError):
        read_volume(tmp_path / "none.nii.gz")
    (tmp_path / "empty.nrrd").write_bytes(b"")
    with pytest.raises(EmptyInputError):
        read_volume(tmp_path / "empty.nrrd")
    (tmp_path / "scan.xyz").write_text("data")
    with pytest.raises(UnsupportedFormatError, match="unsupported file type"):
        read_volume(tmp_path / "scan.xyz")
    with pytest.raises(UnsupportedFormatError):
        write_volume(Volume(np.zeros((1, 2, 2))), tmp_path / "out.png")


def test_corrupt_files(small: Volume, tmp_path: Path) -> None:
    raw = write_volume(small, tmp_path / "v.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "garbage.nrrd").write_bytes(b"NRRD0004\nthis is: not a header\n\x00\x01")
    (tmp_path / "text.nii").write_text("hello, I am not a NIfTI file" * 20)
    (tmp_path / "badgz.nii.gz").write_bytes(gzip.compress(b"short"))
    for suffix in (".nii", ".mha", ".nrrd"):
        raw = write_volume(small, tmp_path / f"v{suffix}").read_bytes()
        (tmp_path / f"cut{suffix}").write_bytes(raw[: len(raw) * 2 // 3])
    names = ["cut.nii.gz", "garbage.nrrd", "text.nii", "badgz.nii.gz", "cut.nii", "cut.mha"]
    for name in [*names, "cut.nrrd"]:
        with pytest.raises(CorruptFileError) as info:
            read_volume(tmp_path / name)
        message = str(info.value)
        assert isinstance(info.value, RadVoiceError) and "\n" not in message and name in message


def test_vector_and_4d_images_rejected(tmp_path: Path) -> None:
    rgb = sitk.Image([4, 4, 4], sitk.sitkVectorUInt8, 3)
    sitk.WriteImage(rgb, str(tmp_path / "rgb.nrrd"))
    with pytest.raises(UnsupportedFormatError, match="components"):
        read_volume(tmp_path / "rgb.nrrd")
    sitk.WriteImage(sitk.Image([3, 3, 3, 2], sitk.sitkInt16), str(tmp_path / "t.nii.gz"))
    with pytest.raises(UnsupportedFormatError, match="4-D"):
        read_volume(tmp_path / "t.nii.gz")
