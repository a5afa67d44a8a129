"""``radvoice info``: text and JSON output, PHI hidden by default, exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from radvoice.cli.main import main
from radvoice.imaging import Volume, sample_case_path, write_dicom_series, write_volume

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def dicom_dir(tmp_path: Path) -> Path:
    arr = np.arange(-1000, -1000 + 4 * 6 * 5, dtype=np.int16).reshape(4, 6, 5)
    vol = Volume(arr, (0.8, 0.8, 2.0), (1.0, 2.0, 3.0), np.diag([1.0, 1.0, -1.0]))
    write_dicom_series(
        vol,
        tmp_path,
        series_uid="1.2.3.1",
        series_description="axial",
        patient_name="Doe^Jane",
        patient_id="PID-777",
    )
    small = Volume(arr[:2], (0.8, 0.8, 2.0), (1.0, 2.0, 3.0))
    write_dicom_series(
        small,
        tmp_path / "s2",
        series_uid="1.2.3.2",
        series_description="scout",
        patient_name="Doe^Jane",
        patient_id="PID-777",
    )
    return tmp_path


def test_info_text_for_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(sample_case_path())]) == 0
    out = capsys.readouterr().out
    assert "256 x 256 x 48 voxels" in out
    assert "orientation: LPS" in out
    assert "HU range:    -1024 .. " in out
    assert "6.0 MB" in out


def test_info_json_dicom_hides_phi(dicom_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(dicom_dir), "--json"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out)
    assert [(s["uid"], s["n_slices"], s["opened"]) for s in info["series"]] == [
        ("1.2.3.1", 4, True),
        ("1.2.3.2", 2, False),
    ]
    assert info["shape_xyz"] == [5, 6, 4]
    assert info["spacing_mm"] == [0.8, 0.8, 2.0]
    assert info["orientation"] == "LPS"  # stored k-down, read back sorted along the normal
    assert (info["hu_min"], info["hu_max"]) == (-1000, -1000 + 119)
    assert info["meta"]["SeriesDescription"] == "axial"
    assert any("2 series" in w for w in info["warnings"])
    assert "Doe" not in out and "PID-777" not in out


def test_info_phi_and_series_choice(dicom_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(dicom_dir), "--series", "1.2.3.2", "--phi"]) == 0
    out = capsys.readouterr().out
    assert "Doe^Jane" in out and "PID-777" in out
    assert "5 x 6 x 2 voxels" in out
    assert "* 1.2.3.2 'scout': 2 slices of 5x6 CT" in out


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p / "missing.nii.gz", "no such file"),
        (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "unsupported file type"),
        (lambda p: (p / "e").mkdir() or p / "e", "empty"),
        (
            lambda p: (p / "t").mkdir() or ((p / "t" / "r.txt").write_text("x") and p / "t"),
            "no DICOM",
        ),
        (
            lambda p: (p / "b.nrrd").write_bytes(b"NRRD0004\ngarbage\n") and p / "b.nrrd",
            "cannot be read",
        ),
    ],
)
def test_info_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, needle: str
) -> None:
    path = make(tmp_path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("radvoice: error: ") and needle in lines[0]


def test_info_subprocess_exit_code(tmp_path: Path) -> None:
    bad = write_volume(Volume(np.zeros((2, 3, 4))), tmp_path / "v.nii.gz")
    bad.write_bytes(bad.read_bytes()[:60])
    proc = subprocess.run(
        [sys.executable, "-m", "radvoice.cli.main", "info", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("radvoice: error: ") and "Traceback" not in proc.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "radvoice.cli.main", "info", str(sample_case_path()), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert ok.returncode == 0 and json.loads(ok.stdout)["shape_xyz"] == [256, 256, 48]
