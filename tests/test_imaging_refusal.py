"""DICOM objects that are not CT volumes: a one-line refusal naming what they are, never a
traceback (pydicom's and pydicom-data's test files, plus built PET/MG/DX/XA/PR/localizer files).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pydicom
import pytest
from dicom_corpus import all_corpus_files, corpus_file, retyped, small_ct

from radvoice.cli.main import main
from radvoice.imaging import (
    ImageReadError,
    NotCTVolumeError,
    discover,
    read_volume,
    write_dicom_series,
)
from radvoice.imaging.dicom_discover import scan_folder
from radvoice.imaging.dicom_kind import CT_SOP_CLASSES, object_kind

REPO = Path(__file__).resolve().parents[1]
CR = "Computed Radiography Image Storage"


def _alone(path: Path, folder: Path) -> Path:
    """``path`` copied into a folder of its own (a single file reads the series beside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(path, folder))


def _refusal(path: Path) -> str:
    with pytest.raises(NotCTVolumeError) as info:
        read_volume(path)
    text = str(info.value)
    assert "\n" not in text and text.endswith(", not a CT volume"), text
    return text


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("RG1_UNCI.dcm", f"a CR projection radiograph ({CR})"),  # PixelSpacing 0\0
        ("RG3_UNCR.dcm", f"a CR projection radiograph ({CR})"),  # no spacing at all
        ("RG1_J2KR.dcm", f"a CR projection radiograph ({CR})"),
        ("MR_small.dcm", "an MR image (MR Image Storage)"),
        ("emri_small.dcm", "an MR image (Enhanced MR Image Storage)"),
        ("SC_rgb.dcm", "a secondary capture (Secondary Capture Image Storage)"),
        ("JPEG2000.dcm", "a secondary capture (Secondary Capture Image Storage)"),  # NM as SC
        ("US1_UNCR.dcm", "an ultrasound image (Ultrasound Image Storage)"),
        ("OBXXXX1A_rle_2frame.dcm", "an ultrasound image (Ultrasound Multi-frame Image Storage)"),
        ("liver.dcm", "a segmentation (Segmentation Storage)"),
        ("liver_1frame.dcm", "a segmentation (Segmentation Storage)"),
        ("test-SR.dcm", "a structured report (Comprehensive SR Storage)"),
        ("reportsi.dcm", "a structured report (Basic Text SR Storage)"),
        ("rtdose.dcm", "an RT dose grid (RT Dose Storage)"),
        ("rtstruct.dcm", "a radiotherapy (RT) object (RT Structure Set Storage)"),
        ("waveform_ecg.dcm", "a waveform (12-lead ECG Waveform Storage)"),
    ],
)
def test_corpus_file_is_refused_by_name(tmp_path: Path, name: str, what: str) -> None:
    path = _alone(corpus_file(name), tmp_path)
    assert _refusal(path) == f"{name}: {what}, not a CT volume"
    with pytest.raises(NotCTVolumeError, match="not a CT volume"):
        discover(path)
    with pytest.raises(NotCTVolumeError, match=f"{name}: {what.split(' (')[0]}"):
        read_volume(tmp_path)  # the folder holding it


def test_every_corpus_file_reads_or_gives_one_line(tmp_path: Path) -> None:
    """All ~170 files: a non-CT SOP class is refused as such; the rest read or fail in one
    line, with an int16 volume of positive spacing when they read."""
    refused = read = 0
    for n, src in enumerate(all_corpus_files()):
        path = _alone(src, tmp_path / str(n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                sop = str(pydicom.dcmread(src, stop_before_pixels=True).get("SOPClassUID", ""))
            except Exception:  # noqa: BLE001 - raw or broken headers: no SOP class to expect
                sop = ""
        try:
            vol = read_volume(path)
        except NotCTVolumeError as err:
            assert "\n" not in str(err) and str(err).startswith(f"{src.name}: "), err
            refused += 1
            continue
        except ImageReadError as err:
            assert "\n" not in str(err) and str(err), (src.name, err)
            assert sop in CT_SOP_CLASSES or not sop, f"{src.name} ({sop}): {err}"
            continue
        assert sop in CT_SOP_CLASSES or not sop, f"{src.name} ({sop}) was read as a CT"
        assert vol.array.dtype.name == "int16" and min(vol.spacing) > 0, src.name
        read += 1
    assert refused >= 130 and read >= 6, (refused, read)


@pytest.mark.parametrize(
    ("sop_class", "modality", "edits", "what"),
    [
        (
            "1.2.840.10008.5.1.4.1.1.128",
            "PT",
            {},
            "a PET image (Positron Emission Tomography Image Storage)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.130",
            "PT",
            {},
            "a PET image (Enhanced PET Image Storage)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.1.2",
            "MG",
            {"ImagePositionPatient": None, "ImageOrientationPatient": None},
            "an MG projection radiograph (Digital Mammography X-Ray Image Storage - For "
            "Presentation)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.1.1",
            "DX",
            {"PixelSpacing": None, "ImagerPixelSpacing": ["0.15", "0.15"]},
            "a DX projection radiograph (Digital X-Ray Image Storage - For Presentation)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.12.1",
            "XA",
            {},
            "an XA projection radiograph (X-Ray Angiographic Image Storage)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.11.1",
            "PR",
            {"PixelData": None, "Rows": None, "Columns": None},
            "a presentation state (Grayscale Softcopy Presentation State Storage)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.66.4",
            "SEG",
            {},
            "a segmentation (Segmentation Storage)",
        ),
        (
            "1.2.840.10008.5.1.4.1.1.2",
            "CT",
            {"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]},
            "a CT localizer (scout) image (CT Image Storage)",
        ),
        ("", "MR", {}, "an MR image (Modality MR)"),
    ],
)
def test_built_files_are_refused(tmp_path: Path, sop_class, modality, edits, what) -> None:
    (path,) = retyped(tmp_path, sop_class, modality, **edits)
    assert _refusal(path) == f"{path.name}: {what}, not a CT volume"


def test_single_ct_frame_without_spacing_is_refused(tmp_path: Path) -> None:
    (path,) = retyped(tmp_path / "one", "1.2.840.10008.5.1.4.1.1.2", "CT", PixelSpacing=None)
    assert (
        _refusal(path) == f"{path.name}: a single CT image without pixel spacing, not a CT volume"
    )
    with pytest.raises(NotCTVolumeError, match="a single CT image without pixel spacing"):
        read_volume(tmp_path / "one")
    with pytest.raises(NotCTVolumeError, match="without pixel spacing"):
        discover(path)


def test_zero_pixel_spacing_in_a_ct_series_warns_instead_of_crashing(tmp_path: Path) -> None:
    paths = retyped(tmp_path, "1.2.840.10008.5.1.4.1.1.2", "CT", n=4, PixelSpacing=["0", "0"])
    vol = read_volume(paths[0])
    assert vol.shape == (4, 12, 10) and vol.spacing == (1.0, 1.0, 2.0)
    assert any("invalid PixelSpacing" in w for w in vol.warnings), vol.warnings


def test_object_kind_articles_and_fallbacks() -> None:
    assert object_kind("1.2.840.10008.5.1.4.1.1.2", "CT") is None
    assert object_kind("", "") is None  # nothing to tell it apart: read as before
    assert object_kind("", "CT", ("ORIGINAL", "LOCALIZER")).startswith("a CT localizer")
    assert object_kind("1.2.840.10008.5.1.4.1.1.12.2", "RF").startswith("an RF projection")
    assert object_kind("1.2.840.10008.5.1.4.1.1.20", "NM").startswith("a nuclear medicine")
    assert object_kind("1.2.3.4", "XC") == "an XC object (SOP class 1.2.3.4)"
    assert object_kind("", "PT") == "a PET image (Modality PT)"


def _mixed_folder(root: Path) -> dict[str, Path]:
    """A CT series, a CR radiograph, an SR and a two-image PET series in one study folder."""
    ct = write_dicom_series(small_ct(6), root / "ct", series_uid="1.2.826.0.1.99.1")
    cr = _alone(corpus_file("RG1_UNCI.dcm"), root / "cr")
    sr = _alone(corpus_file("test-SR.dcm"), root / "sr")
    pet = retyped(root / "pet", "1.2.840.10008.5.1.4.1.1.128", "PT", n=2)
    return {"ct": ct[0], "cr": cr, "sr": sr, "pet": pet[0]}


def test_mixed_folder_lists_ct_and_skips_the_rest_with_reasons(tmp_path: Path) -> None:
    files = _mixed_folder(tmp_path)
    (series,) = discover(tmp_path)
    assert series.uid == "1.2.826.0.1.99.1" and series.n_slices == 6
    scan = scan_folder(tmp_path)
    reasons = sorted((s.modality, s.refusal.split(" (")[0], len(s.files)) for s in scan.refused)
    assert reasons == [
        ("CR", "a CR projection radiograph", 1),
        ("PT", "a PET image", 2),
        ("SR", "a structured report", 1),
    ]
    vol = read_volume(tmp_path)
    assert vol.shape == (6, 12, 10) and vol.warnings == []
    cr_uid = str(pydicom.dcmread(files["cr"], stop_before_pixels=True).SeriesInstanceUID)
    with pytest.raises(NotCTVolumeError, match=r"RG1_UNCI\.dcm: a CR projection radiograph"):
        read_volume(tmp_path, series_uid=cr_uid)
    with pytest.raises(NotCTVolumeError, match="a PET image"):
        read_volume(files["pet"])


def test_folder_without_ct_names_its_first_image(tmp_path: Path) -> None:
    _alone(corpus_file("test-SR.dcm"), tmp_path)
    retyped(tmp_path / "pet", "1.2.840.10008.5.1.4.1.1.128", "PT", n=3)
    with pytest.raises(NotCTVolumeError) as info:
        read_volume(tmp_path)
    text = str(info.value)
    assert "\n" not in text and "a PET image" in text and "3 files" in text, text
    assert "and 1 other non-CT series" in text


def test_info_on_mixed_folder_lists_what_was_left_out(tmp_path: Path, capsys) -> None:
    _mixed_folder(tmp_path)
    assert main(["info", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [s["uid"] for s in info["series"]] == ["1.2.826.0.1.99.1"]
    assert sorted(s["what"].split(" (")[0] for s in info["not_ct"]) == [
        "a CR projection radiograph",
        "a PET image",
        "a structured report",
    ]
    assert main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "not CT:      3 series left out" in out and "RG1_UNCI" not in out  # UIDs, not names


@pytest.mark.parametrize("command", ["info", "classify"])
def test_cli_on_a_radiograph_exits_2_with_one_line(tmp_path: Path, capsys, command) -> None:
    path = _alone(corpus_file("RG1_UNCI.dcm"), tmp_path)
    argv = [command, str(path)] + (["--text", "effusion?"] if command == "classify" else [])
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err == (
        f"radvoice: error: RG1_UNCI.dcm: a CR projection radiograph ({CR}), not a CT volume\n"
    )


def test_info_subprocess_on_a_cr_file(tmp_path: Path) -> None:
    """The issue's reproduction: ``radvoice info`` on a CR chest radiograph."""
    path = _alone(corpus_file("RG1_UNCI.dcm"), tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "radvoice.cli.main", "info", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"radvoice: error: RG1_UNCI.dcm: a CR projection radiograph ({CR}), not a CT volume"
    ]
