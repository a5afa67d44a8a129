"""A plain export for people without a PACS: the answer as JSON and a PNG with the findings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from radvoice.export.findings import FindingsReport


def write_json(report: FindingsReport, path: Path) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def _axial_image(volume, window: tuple[float, float] = (1500.0, -600.0)) -> np.ndarray:
    """The middle axial slice in the lung window, uint8, radiological orientation."""
    width, level = window
    img = volume.array[volume.shape[0] // 2].astype(np.float32)
    img = np.clip((img - (level - width / 2)) / width, 0.0, 1.0)
    return (img * 255).astype(np.uint8)


def write_png(report: FindingsReport, volume, path: Path) -> Path:
    """Middle axial slice beside the 18 findings (asked one first, present ones marked)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5.6), dpi=100)
    ax_img = fig.add_axes((0.01, 0.06, 0.46, 0.88))
    ax_img.imshow(_axial_image(volume), cmap="gray", interpolation="bilinear")
    ax_img.set_axis_off()
    ax_img.set_title(volume.describe() if hasattr(volume, "describe") else "", fontsize=9)
    ax = fig.add_axes((0.5, 0.06, 0.48, 0.88))
    ax.set_axis_off()
    first = [report.query["label"]] if report.query else []
    rest = sorted((k for k in report.probabilities if k not in first),
                  key=lambda k: -report.probabilities[k])
    lines = [f"{'finding':<32} prob   thr   call"]
    for k in first + rest:
        call = "PRESENT" if report.present(k) else ""
        mark = "▶ " if k in first else "  "
        lines.append(f"{mark}{k:<30} {report.probabilities[k]:.3f} {report.thresholds[k]:.3f} {call}")
    ax.text(0, 1, "\n".join(lines), family="DejaVu Sans Mono", fontsize=8.5, va="top")
    ax.text(0, 0.0, f"{report.algorithm_name} {report.algorithm_version[:19]}…\n"
            "Preliminary, unverified. Research model, not for clinical use.", fontsize=8,
            va="bottom", color="#a00")
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    tmp.replace(path)
    return path
