"""Anatomy derived from the real background CTs: extraction time, structure volumes (mL),
centroids relative to the carina (mm, LPS: +x left, +y posterior, +z up), cardiothoracic
ratio and calcium already present, on the scan and after warping onto the model grid; draws
``docs/contact_sheets/real/anatomy.png``. lung2 is read as the evaluation does
(``allow_heldout_background``); nothing here trains on it.

    .venv/bin/python bench/real_anatomy.py [--ct ../shared/data/ct] [--no-sheet]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from radvoice.data.phantom.grid import Grid
from radvoice.data.phantom.real_anatomy import (
    AIRWAY,
    AO_ARCH,
    AO_ASC,
    AO_DESC,
    ESOPHAGUS,
    HEART,
    extract_anatomy,
)
from radvoice.data.phantom.real_background import _load, real_chest

NAMES = {
    HEART: "heart",
    AO_ASC: "ascending aorta",
    AO_ARCH: "aortic arch",
    AO_DESC: "descending aorta",
    AIRWAY: "trachea+main bronchi",
    ESOPHAGUS: "esophagus",
}


def _fmt(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:+6.0f}" for x in v) + ")"


def report(path: Path) -> None:
    arr, spacing, _, _ = _load(str(path))
    t0 = time.perf_counter()
    src = extract_anatomy(arr, spacing)
    dt = time.perf_counter() - t0
    print(f"\n== {path.name}: {arr.shape} at {tuple(round(s, 3) for s in spacing)} mm")
    print(f"extraction {dt:.2f} s (cached per process)")
    car = src.points["carina"]
    for code, name in NAMES.items():
        m = src.labels == code
        ml = m.sum() * src.grid.voxel_volume / 1000
        c = src.grid.to_mm(np.array(np.nonzero(m)).mean(axis=1)) - car if m.any() else [np.nan] * 3
        print(f"  {name:22s} {ml:7.1f} mL  centroid - carina {_fmt(np.asarray(c))}")
    for name in ("hilum_right", "hilum_left", "sternum", "dome_right", "dome_left"):
        print(f"  {name:22s} {'':10s} point - carina    {_fmt(src.points[name] - car)}")
    st = src.stats
    print(
        f"  CTR {st['ctr']:.3f}; aortic calcium {st['aortic_calcium_ml']:.2f} mL; "
        f"cardiac calcium {st['cardiac_calcium_ml']:.2f} mL; metal {st['metal_ml']:.2f} mL"
    )
    grid = Grid.centered((64, 128, 128), (2.8, 2.8, 5.0))
    for seed in (0, 1):
        t0 = time.perf_counter()
        _, chest, info = real_chest(path, np.random.default_rng(seed), grid, allow_heldout=True)
        anat = info["anatomy"]
        vols = {
            NAMES[c]: round(float(anat.mask(c).sum() * grid.voxel_volume / 1000), 1) for c in NAMES
        }
        print(
            f"  model grid, warp seed {seed}: {time.perf_counter() - t0:.2f} s, {vols}, "
            f"present {info['present']}, insertable {len(chest.supported)}/18"
        )


def sheet(paths: list[Path], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {HEART: "red", AO_ASC: "yellow", AO_ARCH: "orange", AO_DESC: "gold"}
    colors.update({AIRWAY: "cyan", ESOPHAGUS: "magenta"})
    fig, axes = plt.subplots(len(paths), 5, figsize=(20, 4.2 * len(paths)), facecolor="black")
    for row, path in zip(np.atleast_2d(axes), paths, strict=True):
        arr, spacing, _, _ = _load(str(path))
        src = extract_anatomy(arr, spacing)
        f = src.grid.spacing[0] / spacing[0]
        kc = int(round(src.grid.to_index(src.points["carina"])[0]))
        heart_k = np.flatnonzero((src.labels == HEART).any(axis=(1, 2)))
        levels = [kc + int(30 / spacing[2]), kc + 1, kc - int(20 / spacing[2])]
        levels.append(int(heart_k.mean()) if heart_k.size else kc - 8)
        for ax, k in zip(row[:4], levels, strict=True):
            k = int(np.clip(k, 0, arr.shape[0] - 1))
            ax.imshow(arr[k], cmap="gray", vmin=-200, vmax=300)
            for code, col in colors.items():
                m = np.kron(src.labels[k] == code, np.ones((int(f), int(f))))
                if m.any():
                    ax.contour(m, [0.5], colors=col, linewidths=0.7)
            for name, p in src.points.items():
                kk, j, i = src.grid.to_index(p)
                if abs(kk - k) < 1.5 and name.startswith("station:"):
                    ax.plot(i * f, j * f, "+", color="lime", ms=8)
            ax.set_title(f"{path.name.split('_')[0]} axial k={k}", color="white", fontsize=8)
        j = (
            int(np.nonzero(src.labels == HEART)[1].mean() * f)
            if heart_k.size
            else arr.shape[1] // 2
        )
        row[4].imshow(
            arr[:, j, :],
            cmap="gray",
            vmin=-200,
            vmax=300,
            origin="lower",
            aspect=spacing[2] / spacing[0],
        )
        for code, col in colors.items():
            m = np.kron(src.labels[:, int(j / f)] == code, np.ones((1, int(f))))
            if m.any():
                row[4].contour(m, [0.5], colors=col, linewidths=0.7)
        row[4].set_title("coronal through the heart", color="white", fontsize=8)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(
        "Derived anatomy: heart red, aorta yellow/orange/gold, airway cyan, esophagus magenta,"
        " node stations lime +",
        color="white",
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=60, facecolor="black")
    plt.close(fig)
    print(f"\nwrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--ct", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/ct"
    )
    ap.add_argument("--no-sheet", action="store_true")
    args = ap.parse_args()
    paths = [args.ct / "lung1_image.nrrd", args.ct / "lung2_image.nrrd"]
    for path in paths:
        report(path)
    if not args.no_sheet:
        sheet(paths, Path("docs/contact_sheets/real/anatomy.png"))


if __name__ == "__main__":
    main()
