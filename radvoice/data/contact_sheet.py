"""Contact sheets: axial and coronal slices of generated cases through each finding (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from radvoice.labels import PATHOLOGIES

LUNG_WINDOW = (1500.0, -600.0)
SOFT_WINDOW = (400.0, 40.0)
MEDIASTINAL_FINDINGS = {
    "Medical material",
    "Arterial wall calcification",
    "Cardiomegaly",
    "Pericardial effusion",
    "Coronary artery wall calcification",
    "Hiatal hernia",
    "Lymphadenopathy",
    "Pleural effusion",
}


def window_for(label: str) -> tuple[float, float]:
    """(width, level) a radiologist would use to judge ``label``."""
    return SOFT_WINDOW if label in MEDIASTINAL_FINDINGS else LUNG_WINDOW


def _slug(label: str) -> str:
    return label.lower().replace(" ", "_")


def render_sheet(
    label: str,
    out_dir: Path,
    seed: int = 7,
    n_cases: int = 3,
    detail: bool = True,
    backgrounds: Sequence[Path] | None = None,
) -> Path:
    """Write ``out_dir/<label>.png``: ``n_cases`` cases that have ``label`` (and only it).

    With ``backgrounds`` (real CT files, used in turn) the finding is inserted into real
    scans and a middle row shows the same slice of the same case without it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radvoice.data.synth import generate_case

    shape, spacing = (
        ((100, 200, 200), (1.8, 1.8, 3.2)) if detail else ((64, 128, 128), (2.8, 2.8, 5.0))
    )
    labels = [label] if label != "Normal" else []
    rows = 3 if backgrounds else 2
    fig, axes = plt.subplots(rows, n_cases, figsize=(4.2 * n_cases, 4.1 * rows), facecolor="black")
    axes = np.atleast_2d(axes).reshape(rows, n_cases)
    width, level = window_for(label) if label != "Normal" else LUNG_WINDOW
    lo, hi = level - width / 2, level + width / 2
    for c in range(n_cases):
        extra = {}
        if backgrounds:
            bg = Path(backgrounds[c % len(backgrounds)])
            extra = {"real_background": bg, "allow_heldout_background": True}
        case = generate_case(seed, c, shape=shape, spacing=spacing, labels=labels, **extra)
        arr = case.volume.array.astype(np.float32)
        sx, _sy, sz = case.volume.spacing
        mask = case.masks.get(label)
        if mask is not None and mask.any():
            k = int(np.argmax(mask.sum(axis=(1, 2))))
            j = int(np.argmax(mask.sum(axis=(0, 2))))
        else:
            k, j = arr.shape[0] // 2, int(arr.shape[1] * 0.55)
        ax, cor = axes[0, c], axes[-1, c]
        ax.imshow(arr[k], cmap="gray", vmin=lo, vmax=hi, interpolation="bilinear")
        cor.imshow(
            arr[:, j, :],
            cmap="gray",
            vmin=lo,
            vmax=hi,
            origin="lower",
            aspect=sz / sx,
            interpolation="bilinear",
        )
        if mask is not None and mask.any():
            ax.contour(mask[k], levels=[0.5], colors="red", linewidths=0.6)
            cor.contour(mask[:, j, :], levels=[0.5], colors="red", linewidths=0.6)
        if backgrounds:
            plain = generate_case(seed, c, shape=shape, spacing=spacing, labels=[], **extra)
            axes[1, c].imshow(plain.volume.array[k], cmap="gray", vmin=lo, vmax=hi)
            axes[1, c].set_title(
                f"{case.background}: without the finding", color="white", fontsize=7
            )
        desc = case.findings.get(label, {})
        short = ", ".join(f"{k_}={v}" for k_, v in desc.items() if k_ not in ("nodules",))[:70]
        if "nodules" in desc:
            short = "; ".join(f"{n['size_mm']}mm {n['kind']} {n['lobe']}" for n in desc["nodules"])[
                :70
            ]
        ax.set_title(f"case {c} axial k={k}\n{short}", color="white", fontsize=7)
        cor.set_title(f"coronal j={j}", color="white", fontsize=7)
        for a in axes[:, c]:
            a.set_xticks([])
            a.set_yticks([])
    fig.suptitle(
        f"{label} - window W{width:.0f} L{level:.0f} - red: finding mask",
        color="white",
        fontsize=11,
    )
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{_slug(label)}.png"
    fig.savefig(path, dpi=80, facecolor="black")
    plt.close(fig)
    return path


def render_all(
    out_dir: Path,
    seed: int = 7,
    labels: list[str] | None = None,
    detail: bool = True,
    backgrounds: Sequence[Path] | None = None,
) -> list[Path]:
    return [
        render_sheet(lab, out_dir, seed, detail=detail, backgrounds=backgrounds)
        for lab in (labels or ["Normal", *PATHOLOGIES])
    ]
