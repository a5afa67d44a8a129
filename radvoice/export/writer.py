"""Write the results of one case to a folder: SR, parametric maps, JSON and PNG."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from radvoice.export.errors import ExportError
from radvoice.export.findings import FindingsReport


@dataclass
class ExportedFiles:
    sr: Path | None = None
    maps: dict[str, Path] = field(default_factory=dict)
    json: Path | None = None
    png: Path | None = None
    datasets: list[Dataset] = field(default_factory=list, repr=False)

    def paths(self) -> list[Path]:
        out = [p for p in (self.sr, self.json, self.png) if p is not None]
        return out + list(self.maps.values())


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _save(ds: Dataset, path: Path) -> Path:
    tmp = path.with_name(path.name + ".part")
    ds.save_as(tmp, enforce_file_format=True)
    tmp.replace(path)
    return path


def export_results(
    out_dir: str | Path,
    report: FindingsReport,
    sources: list[Dataset] | None = None,
    heatmaps: dict[str, np.ndarray] | None = None,
    volume=None,
    plain: bool = True,
) -> ExportedFiles:
    """SR (+ one parametric map per heat map) when ``sources`` are given; JSON (+ PNG with a
    volume) when ``plain``. Each file appears complete or not at all."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"cannot create {out}: {err.strerror}") from None
    files = ExportedFiles()
    if heatmaps and not sources:
        raise ExportError("a parametric map needs the source DICOM series")
    try:
        if sources:
            from radvoice.export.pmap import build_parametric_map
            from radvoice.export.sr import build_findings_sr

            sr = build_findings_sr(sources, report)
            files.sr = _save(sr, out / "findings_sr.dcm")
            files.datasets.append(sr)
            for i, (label, values) in enumerate((heatmaps or {}).items()):
                pm = build_parametric_map(
                    sources, values, label, report.algorithm_version, series_number=902 + i
                )
                files.maps[label] = _save(pm, out / f"heatmap_{_slug(label)}.dcm")
                files.datasets.append(pm)
        if plain:
            from radvoice.export.plain import write_json, write_png

            files.json = write_json(report, out / "findings.json")
            if volume is not None:
                files.png = write_png(report, volume, out / "findings.png")
    except OSError as err:
        raise ExportError(f"cannot write to {out}: {err.strerror or err}") from None
    return files
