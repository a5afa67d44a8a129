"""DICOM series: round trips, discovery, irregular stacks, bad input (headless, small crops)."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG2MPML, JPEG2000Lossless, JPEGLosslessSV1, RLELossless

from radvoice.errors import RadVoiceError
from radvoice.imaging import (
    CorruptFileError,
    EmptyInputError,
    NoImageError,
    SeriesNotFoundError,
    TooLargeError,
    UnsupportedFormatError,
    Volume,
    dicom_discover,
    dicom_read,
    discover,
    read_volume,
    sample_case_path,
    write_dicom_series,
)


@pytest.fixture(scope="module")
def lung1(real_ct_dir: Path) -> Volume:
    return read_volume(real_ct_dir / "lung1_image.nrrd")


@pytest.fixture(scope="module")
def crop() -> Volume:
    """12 slices of 48x40 of the embedded lung1 sample around the mediastinum: small, real."""
    sample = read_volume(sample_case_path())
    arr = sample.array[18:30, 115:155, 110:158]
    origin = sample.index_to_lps((110, 115, 18))
    return Volume(arr, sample.spacing, tuple(origin), sample.direction)


def _assert_same(a: Volume, b: Volume) -> None:
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_allclose(a.spacing, b.spacing, atol=1e-6)
    np.testing.assert_allclose(a.origin, b.origin, atol=1e-6)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-6)


def _shuffle_names(folder: Path) -> list[Path]:
    files = sorted(folder.iterdir())
    rng = random.Random(7)
    new = []
    for f in rng.sample(files, len(files)):
        target = folder / uuid.UUID(int=rng.getrandbits(128)).hex  # no extension
        f.rename(target)
        new.append(target)
    return new


def _edit(path: Path, **tags: object) -> None:
    ds = pydicom.dcmread(path)
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path)


def _position(path: Path) -> list[float]:
    return [float(v) for v in pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient]


@pytest.mark.realct
@pytest.mark.slow
def test_full_lung1_round_trip_from_shuffled_names(lung1: Volume, tmp_path: Path) -> None:
    write_dicom_series(lung1, tmp_path, file_names="index")
    _shuffle_names(tmp_path)
    back = read_volume(tmp_path)
    _assert_same(lung1, back)
    assert back.warnings == []
    assert back.meta["PatientName"] == "Anonymous^Sample"
    assert back.meta["Modality"] == "CT" and back.modality == "CT"


def test_crop_round_trip_with_rotated_direction(crop: Volume, tmp_path: Path) -> None:
    # a right-handed oblique frame: rotation of 30 degrees about the L axis
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    direction = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    vol = Volume(crop.array, (0.7, 0.8, 2.5), (10.0, -20.0, 30.0), direction)
    write_dicom_series(vol, tmp_path)
    _shuffle_names(tmp_path)
    _assert_same(vol, read_volume(tmp_path))


def test_left_handed_frame_reads_back_flipped_along_normal(crop: Volume, tmp_path: Path) -> None:
    """Slices are ordered by position along row x column, so a k axis opposite to the normal
    comes back reversed, describing the same voxels in space."""
    direction = np.diag([1.0, 1.0, -1.0])
    vol = Volume(crop.array, crop.spacing, (0.0, 0.0, 100.0), direction)
    write_dicom_series(vol, tmp_path)
    back = read_volume(tmp_path)
    np.testing.assert_array_equal(back.array, vol.array[::-1])
    np.testing.assert_allclose(back.direction, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(back.origin, vol.index_to_lps((0, 0, vol.shape[0] - 1)), atol=1e-6)
    centre = (5, 7, 3)
    assert back.hu_at(
        *np.rint(back.lps_to_index(vol.index_to_lps(centre))).astype(int)
    ) == vol.hu_at(*centre)


def test_rescale_slope_and_signed_storage(crop: Volume, tmp_path: Path) -> None:
    even = Volume((crop.array // 2) * 2, crop.spacing, crop.origin, crop.direction)
    paths = write_dicom_series(even, tmp_path / "a")  # unsigned, intercept -1024
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.PixelData = (ds.pixel_array // 2).astype("<u2").tobytes()
        ds.RescaleSlope = "2"
        ds.save_as(p)
    _assert_same(even, read_volume(tmp_path / "a"))
    low = Volume(np.full((3, 4, 5), -3000, np.int16), crop.spacing, crop.origin)
    write_dicom_series(low, tmp_path / "b")  # below the intercept: stored signed
    assert pydicom.dcmread(next((tmp_path / "b").iterdir())).PixelRepresentation == 1
    _assert_same(low, read_volume(tmp_path / "b"))


def test_two_series_discovered_and_each_readable(crop: Volume, tmp_path: Path) -> None:
    other = Volume(crop.array[:7, :20] + 5, (1.0, 1.0, 3.0), (1.0, 2.0, 3.0))
    write_dicom_series(crop, tmp_path, series_uid="1.2.3.1", series_description="lung")
    write_dicom_series(other, tmp_path / "sub", series_uid="1.2.3.2", series_description="small")
    found = {s.uid: s for s in discover(tmp_path)}
    assert set(found) == {"1.2.3.1", "1.2.3.2"}
    assert found["1.2.3.1"].n_slices == 12 and found["1.2.3.1"].shape == (12, 40, 48)
    assert found["1.2.3.2"].description == "small" and found["1.2.3.2"].n_slices == 7
    _assert_same(crop, read_volume(tmp_path, series_uid="1.2.3.1"))
    _assert_same(other, read_volume(tmp_path, series_uid="1.2.3.2"))
    largest = read_volume(tmp_path)
    _assert_same(crop, largest)
    assert any("2 series" in w and "1.2.3.2" in w for w in largest.warnings)
    with pytest.raises(SeriesNotFoundError, match=r"1\.2\.3\.1"):
        read_volume(tmp_path, series_uid="9.9.9")


def test_single_file_opens_its_own_series(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path, series_uid="1.2.3.1")
    small = write_dicom_series(
        Volume(crop.array[:3], crop.spacing, crop.origin), tmp_path, series_uid="1.2.3.2"
    )
    vol = read_volume(small[1])
    assert vol.shape == (3, 40, 48)
    assert vol.meta["SeriesInstanceUID"] == "1.2.3.2"
    assert {s.uid for s in discover(small[0])} == {"1.2.3.1", "1.2.3.2"}


def test_missing_slice_warns(crop: Volume, tmp_path: Path) -> None:
    paths = write_dicom_series(crop, tmp_path)
    paths[5].unlink()
    vol = read_volume(tmp_path)
    assert vol.shape[0] == 11
    assert vol.spacing[2] == pytest.approx(5.0)
    assert any(w.startswith("missing slices") for w in vol.warnings), vol.warnings


def test_uniform_series_has_no_warnings(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path)
    assert read_volume(tmp_path).warnings == []


def test_non_uniform_spacing_warns(crop: Volume, tmp_path: Path) -> None:
    paths = write_dicom_series(crop, tmp_path)
    x, y, z = _position(paths[6])
    _edit(paths[6], ImagePositionPatient=[x, y, z + 1.0])
    vol = read_volume(tmp_path)
    assert any(w.startswith("non-uniform slice spacing") for w in vol.warnings), vol.warnings
    assert not any(w.startswith("missing") for w in vol.warnings)


def test_gantry_tilt_warns(crop: Volume, tmp_path: Path) -> None:
    paths = write_dicom_series(crop, tmp_path)
    shift = np.tan(np.radians(15)) * crop.spacing[2]
    for k, p in enumerate(paths):
        x, y, z = _position(p)
        _edit(p, ImagePositionPatient=[x, y + k * shift, z])
    vol = read_volume(tmp_path)
    tilt = [w for w in vol.warnings if w.startswith("gantry tilt")]
    assert tilt and "15.0 degrees" in tilt[0]
    np.testing.assert_array_equal(vol.array, crop.array)


def test_mixed_sizes_keep_the_majority(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path, series_uid="1.2.3.1")
    odd = Volume(crop.array[:2, :30, :30], crop.spacing, (0.0, 0.0, 500.0))
    write_dicom_series(odd, tmp_path / "odd", series_uid="1.2.3.1")
    vol = read_volume(tmp_path)
    assert vol.shape == crop.shape
    assert any("mixed slice sizes" in w for w in vol.warnings)


def test_mixed_orientations_keep_the_majority(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path, series_uid="1.2.3.1")
    coronal = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    odd = Volume(crop.array[:3], crop.spacing, (0.0, 0.0, 0.0), coronal)
    write_dicom_series(odd, tmp_path / "cor", series_uid="1.2.3.1")
    vol = read_volume(tmp_path)
    _assert_same(crop, vol)
    assert any(
        "mixed slice orientations in the series: kept 12 slices" in w for w in vol.warnings
    ), vol.warnings


def test_non_image_files_are_skipped(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path)
    (tmp_path / "README.txt").write_text("not an image")
    (tmp_path / "notes").write_text("plain text without an extension")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01garbage")
    (tmp_path / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 10)
    sr = pydicom.Dataset()
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR: no pixels
    sr.SOPInstanceUID = pydicom.uid.generate_uid()
    sr.SeriesInstanceUID = "1.2.3.99"
    sr.Modality = "SR"
    sr.file_meta = pydicom.dataset.FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    sr.file_meta.MediaStorageSOPClassUID = sr.SOPClassUID
    sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPInstanceUID
    sr.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    assert len(discover(tmp_path)) == 1
    vol = read_volume(tmp_path)
    _assert_same(crop, vol)
    assert vol.warnings == []


def test_truncated_files_are_skipped_with_warnings(crop: Volume, tmp_path: Path) -> None:
    """Decision: a corrupt file in a series is skipped and reported, the rest is read."""
    paths = write_dicom_series(crop, tmp_path)
    raw = paths[3].read_bytes()
    paths[3].write_bytes(raw[: len(raw) - 500])  # pixel data cut short
    raw = paths[8].read_bytes()
    paths[8].write_bytes(raw[:300])  # header cut short
    vol = read_volume(tmp_path)
    assert vol.shape[0] == 10
    text = " | ".join(vol.warnings)
    assert paths[3].name in text and paths[8].name in text
    assert "missing slices" in text
    np.testing.assert_array_equal(vol.array[:3], crop.array[:3])


def test_all_files_corrupt_raise(crop: Volume, tmp_path: Path) -> None:
    for p in write_dicom_series(crop, tmp_path):
        raw = p.read_bytes()
        p.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(CorruptFileError):
        read_volume(tmp_path)
    garbage = tmp_path / "x.dcm"
    garbage.write_bytes(b"\x02\x00\x10\x00" + bytes(range(256)) * 3)
    with pytest.raises(CorruptFileError):
        read_volume(garbage)


def test_empty_and_text_only_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyInputError, match="empty"):
        read_volume(empty)
    text = tmp_path / "text"
    text.mkdir()
    (text / "a.txt").write_text("hello")
    (text / "b").write_text("world")
    with pytest.raises(NoImageError, match="no DICOM image"):
        read_volume(text)
    with pytest.raises(NoImageError):
        discover(text)
    (text / "scan.nii.gz").write_bytes(b"x")
    with pytest.raises(NoImageError, match=r"scan\.nii\.gz: open that file instead"):
        read_volume(text)


def test_discover_then_read_parses_headers_once(
    crop: Volume, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = write_dicom_series(crop, tmp_path)
    calls: list[Path] = []
    real = dicom_discover.read_header_at
    monkeypatch.setattr(dicom_discover, "read_header_at", lambda p: calls.append(p) or real(p))
    (info,) = discover(tmp_path)
    assert len(calls) == len(paths)
    _assert_same(crop, read_volume(tmp_path, series_uid=info.uid))
    assert len(calls) == len(paths)  # the scan was reused
    _edit(paths[0], SeriesDescription="changed")  # any change to a file: a fresh scan
    read_volume(tmp_path)
    assert len(calls) == 2 * len(paths)


def test_progress_callback_can_cancel(crop: Volume, tmp_path: Path) -> None:
    class Cancelled(Exception):
        """Raised by the progress callback to cancel the read."""

    def progress(fraction: float, message: str) -> None:
        if message.startswith("reading slice 3/"):
            raise Cancelled

    write_dicom_series(crop, tmp_path)
    with pytest.raises(Cancelled):
        read_volume(tmp_path, progress=progress)


def test_too_large_is_refused_before_pixels_are_read(
    crop: Volume, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dicom_series(crop, tmp_path)
    pixel_reads: list[Path] = []
    full_reads: list[Path] = []
    real_pixels, real_dcmread = dicom_read.slice_pixels, pydicom.dcmread

    def spy_pixels(h, *args):
        pixel_reads.append(h.path)
        return real_pixels(h, *args)

    def spy_dcmread(src, *args, **kwargs):
        if not kwargs.get("stop_before_pixels"):
            full_reads.append(src)
        return real_dcmread(src, *args, **kwargs)

    monkeypatch.setattr(dicom_read, "slice_pixels", spy_pixels)
    monkeypatch.setattr(pydicom, "dcmread", spy_dcmread)
    with pytest.raises(TooLargeError, match=r"needs about .* limit is"):
        read_volume(tmp_path, max_bytes=10_000)
    assert pixel_reads == [] and full_reads == []
    read_volume(tmp_path, max_bytes=10_000_000)
    assert len(pixel_reads) == crop.shape[0]


def test_twelve_bit_unsigned_ignores_high_bits(crop: Volume, tmp_path: Path) -> None:
    paths = write_dicom_series(crop, tmp_path)  # stored = HU + 1024, all below 4096
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = (ds.pixel_array | 0xF000).astype("<u2").tobytes()  # overlay-like bits
        ds.save_as(p)
    _assert_same(crop, read_volume(tmp_path))


def _recode(paths: list[Path], syntax: str, payload: bytes) -> None:
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.PixelData = encapsulate([payload])
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(p)


def test_transfer_syntax_without_decoder_is_named(crop: Volume, tmp_path: Path) -> None:
    _recode(write_dicom_series(crop, tmp_path), MPEG2MPML, b"\x00\x00\x01\xb3 video")
    with pytest.raises(UnsupportedFormatError, match=r"MPEG2 .*1\.2\.840\.10008\.1\.2\.4\.100"):
        read_volume(tmp_path)


def test_undecodable_compressed_pixels_are_corrupt(crop: Volume, tmp_path: Path) -> None:
    _recode(write_dicom_series(crop, tmp_path), JPEGLosslessSV1, b"\xff\xd8not jpeg\xff\xd9")
    with pytest.raises(CorruptFileError, match="no slice"):
        read_volume(tmp_path)


def test_jpeg2000_lossless_series_decodes(crop: Volume, tmp_path: Path) -> None:
    for p in write_dicom_series(crop, tmp_path):
        ds = pydicom.dcmread(p)
        ds.compress(JPEG2000Lossless)
        ds.save_as(p)
    assert pydicom.dcmread(p).file_meta.TransferSyntaxUID == JPEG2000Lossless
    _assert_same(crop, read_volume(tmp_path))


def test_rle_compressed_series_decodes(crop: Volume, tmp_path: Path) -> None:
    for p in write_dicom_series(crop, tmp_path):
        ds = pydicom.dcmread(p)
        ds.compress(RLELossless)
        ds.save_as(p)
    _assert_same(crop, read_volume(tmp_path))


def test_metadata_and_progress(crop: Volume, tmp_path: Path) -> None:
    paths = write_dicom_series(crop, tmp_path, series_description="Chest 1.0 B70f")
    for p in paths:
        _edit(
            p,
            WindowCenter=["-600", "40"],
            WindowWidth=["1500", "400"],
            KVP="120",
            ConvolutionKernel=["B70f", "sharp"],
        )
    calls: list[tuple[float, str]] = []
    vol = read_volume(tmp_path, progress=lambda f, m: calls.append((f, m)))
    assert vol.meta["WindowCenter"] == -600.0 and vol.meta["WindowWidth"] == 1500.0
    assert vol.default_window() == (1500.0, -600.0)
    assert vol.meta["KVP"] == 120.0 and vol.meta["ConvolutionKernel"] == "B70f"
    assert vol.meta["SeriesDescription"] == "Chest 1.0 B70f"
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(calls) > 5
    assert "Anonymous" not in vol.describe()


def _enhanced_ct(vol: Volume, path: Path, order: list[int]) -> None:
    """One Enhanced CT multi-frame file holding ``vol``'s slices in the given frame order."""
    ds = pydicom.dcmread(write_dicom_series(vol, path.parent.parent / "single")[0])
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT Image Storage
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.NumberOfFrames = len(order)
    for key in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(ds, key)
    shared = pydicom.Dataset()
    measures = pydicom.Dataset()
    measures.PixelSpacing = [str(vol.spacing[1]), str(vol.spacing[0])]
    measures.SliceThickness = str(vol.spacing[2])
    plane = pydicom.Dataset()
    plane.ImageOrientationPatient = [
        f"{v:.10g}" for v in (*vol.direction[:, 0], *vol.direction[:, 1])
    ]
    rescale = pydicom.Dataset()
    rescale.RescaleSlope, rescale.RescaleIntercept = "1", "-1024"
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [plane]
    shared.PixelValueTransformationSequence = [rescale]
    ds.SharedFunctionalGroupsSequence = [shared]
    frames = []
    for k in order:
        pos = pydicom.Dataset()
        pos.ImagePositionPatient = [f"{v:.10g}" for v in vol.index_to_lps((0, 0, k))]
        item = pydicom.Dataset()
        item.PlanePositionSequence = [pos]
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = frames
    ds.PixelData = (vol.array[order].astype(np.int32) + 1024).astype("<u2").tobytes()
    ds.save_as(path)


def test_enhanced_multiframe_ct(crop: Volume, tmp_path: Path) -> None:
    order = list(range(crop.shape[0]))
    random.Random(3).shuffle(order)
    (tmp_path / "mf").mkdir()
    _enhanced_ct(crop, tmp_path / "mf" / "enhanced.dcm", order)
    (info,) = discover(tmp_path / "mf")
    assert info.n_slices == crop.shape[0] and len(info.files) == 1
    _assert_same(crop, read_volume(tmp_path / "mf"))
    ds = pydicom.dcmread(tmp_path / "mf" / "enhanced.dcm")
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "mf" / "enhanced.dcm")
    _assert_same(crop, read_volume(tmp_path / "mf" / "enhanced.dcm"))


def test_dicomdir_path_opens_its_folder(crop: Volume, tmp_path: Path) -> None:
    write_dicom_series(crop, tmp_path / "IMAGES")
    (tmp_path / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 10)
    _assert_same(crop, read_volume(tmp_path / "DICOMDIR"))


def test_errors_are_one_line_radvoice_errors(tmp_path: Path) -> None:
    with pytest.raises(RadVoiceError) as info:
        read_volume(tmp_path / "nope")
    assert "\n" not in str(info.value) and "no such file" in str(info.value)
