"""Loading benchmark: a 512x512x300 DICOM series read four ways, timed in one run.

    .venv/bin/python bench/load.py [--slices 300] [--repeats 3] [--keep DIR]

(a) the files' raw bytes, (b) a naive pydicom loop (dcmread + pixel_array per file, sorted
by file name, np.stack), (c) ``read_volume``, (d) ``read_volume`` plus the first rendered
axial frame (VTK offscreen, vtkImageReslice + vtkImageActor). Each way runs in its own
process started by a small parent, so its peak RSS (ru_maxrss) is its own; times are the
best of ``--repeats`` with a warm page cache. Prints times, the ratios c/a, c/b, d/a and peak RSS / volume bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_series(folder: Path, n_slices: int) -> int:
    """lung1 resampled (linear) along z to ``n_slices`` slices, written as DICOM."""
    from radvoice.imaging import Volume, read_volume, write_dicom_series

    src = read_volume(REPO.parent / "shared" / "data" / "ct" / "lung1_image.nrrd")
    nz = src.shape[0]
    z = np.linspace(0, nz - 1, n_slices)
    lo = np.floor(z).astype(int)
    hi = np.minimum(lo + 1, nz - 1)
    w = (z - lo).astype(np.float32)[:, None, None]
    arr = np.empty((n_slices, *src.shape[1:]), np.int16)
    for k in range(n_slices):
        mixed = src.array[lo[k]] * (1 - w[k]) + src.array[hi[k]] * w[k]
        arr[k] = np.rint(mixed)
    sz = src.spacing[2] * (nz - 1) / (n_slices - 1)
    vol = Volume(arr, (src.spacing[0], src.spacing[1], sz), src.origin, src.direction)
    write_dicom_series(vol, folder, file_names="uid")
    return vol.nbytes


def _raw(folder: Path) -> None:
    total = 0
    for f in sorted(folder.iterdir()):
        total += len(f.read_bytes())
    assert total > 0


def _naive(folder: Path) -> None:
    import pydicom

    slices = [pydicom.dcmread(f).pixel_array for f in sorted(folder.iterdir())]
    np.stack(slices)


def _read(folder: Path) -> None:
    from radvoice.imaging import read_volume
    from radvoice.imaging.dicom_discover import clear_scan_cache

    clear_scan_cache()  # time a first open: headers parsed, not taken from the recent-scan cache
    read_volume(folder)


def _render(folder: Path) -> None:
    import vtk
    from vtk.util import numpy_support

    from radvoice.imaging import read_volume
    from radvoice.imaging.dicom_discover import clear_scan_cache

    clear_scan_cache()
    vol = read_volume(folder)
    nx, ny, nz = vol.size_xyz
    image = vtk.vtkImageData()
    image.SetDimensions(nx, ny, nz)
    image.SetSpacing(vol.spacing)
    image.SetOrigin(vol.origin)
    image.SetDirectionMatrix(vol.direction.ravel().tolist())
    scalars = numpy_support.numpy_to_vtk(vol.array.ravel(), deep=False)
    image.GetPointData().SetScalars(scalars)
    centre = vol.index_to_lps((nx / 2, ny / 2, nz / 2))
    reslice = vtk.vtkImageReslice()
    reslice.SetInputData(image)
    reslice.SetOutputDimensionality(2)
    axes = vtk.vtkMatrix4x4()
    for r in range(3):
        for c in range(3):
            axes.SetElement(r, c, vol.direction[r, c])
        axes.SetElement(r, 3, centre[r])
    reslice.SetResliceAxes(axes)
    reslice.SetInterpolationModeToLinear()
    colors = vtk.vtkImageMapToWindowLevelColors()
    colors.SetInputConnection(reslice.GetOutputPort())
    colors.SetWindow(1500)
    colors.SetLevel(-600)
    actor = vtk.vtkImageActor()
    actor.GetMapper().SetInputConnection(colors.GetOutputPort())
    renderer = vtk.vtkRenderer()
    renderer.AddActor(actor)
    window = vtk.vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(512, 512)
    window.AddRenderer(renderer)
    renderer.ResetCamera()
    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.Update()
    pixels = numpy_support.vtk_to_numpy(grab.GetOutput().GetPointData().GetScalars())
    if pixels.max() == pixels.min():
        raise RuntimeError("the rendered frame is blank")
    window.Finalize()


WAYS = {"raw": _raw, "naive": _naive, "read": _read, "render": _render}


def child(way: str, folder: Path, repeats: int) -> None:
    """Time one way in this process; print JSON with the best time and peak RSS."""
    if way == "render":
        import vtk  # noqa: F401  (import cost is not load time)
    import pydicom  # noqa: F401

    import radvoice.imaging  # noqa: F401

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        WAYS[way](folder)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"time": min(times), "peak": peak, "base": base}))


def run_child(way: str, folder: Path, repeats: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        way,
        "--dir",
        str(folder),
        "--repeats",
        str(repeats),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the series here and keep it")
    ap.add_argument("--child", choices=[*sorted(WAYS), "make"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "make":
        print(make_series(args.dir, args.slices))
        return
    if args.child:
        child(args.child, args.dir, args.repeats)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="radvoice-bench-"))
    try:
        t0 = time.perf_counter()
        # every step runs in a child: Linux children inherit the parent's peak RSS (ru_maxrss)
        make = [sys.executable, __file__, "--child", "make", "--dir", str(folder)]
        make += ["--slices", str(args.slices)]
        out = subprocess.run(make, capture_output=True, text=True, check=True, cwd=REPO).stdout
        vol_bytes = int(out.strip().splitlines()[-1])
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(
            f"series: 512x512x{args.slices}, {size / 2**20:.0f} MB on disk, "
            f"written in {time.perf_counter() - t0:.1f} s; volume {vol_bytes / 2**20:.0f} MB"
        )
        _raw(folder)  # warm the page cache for every way alike
        res = {way: run_child(way, folder, args.repeats) for way in WAYS}
        for way, label in (
            ("raw", "(a) raw bytes"),
            ("naive", "(b) naive pydicom loop"),
            ("read", "(c) read_volume"),
            ("render", "(d) read_volume + first frame"),
        ):
            r = res[way]
            print(
                f"{label:<32} {r['time']:7.3f} s   peak RSS {r['peak'] / 2**20:6.0f} MB "
                f"(= {r['peak'] / vol_bytes:.2f} x volume; "
                f"{(r['peak'] - r['base']) / vol_bytes:.2f} x above the import baseline)"
            )
        a, b, c, d = (res[w]["time"] for w in ("raw", "naive", "read", "render"))
        print(f"ratios: c/a = {c / a:.2f}   c/b = {c / b:.2f}   d/a = {d / a:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
