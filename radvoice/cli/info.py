"""``radvoice info PATH``: what a CT file or DICOM folder holds (series, geometry, HU, warnings).

Patient-identifying fields (name, ID, birth date, ...) are hidden unless ``--phi`` is given.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="describe a CT volume file or DICOM folder",
        description="Describe a CT volume (NIfTI, NRRD, MHA/MHD, DICOM file or folder).",
    )
    p.add_argument("path", help="a volume file or a DICOM folder")
    p.add_argument("--series", metavar="UID", help="the DICOM series to read (default: largest)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--phi", action="store_true", help="also show patient name, ID and birth date")
    p.set_defaults(func=run_info)


def _series_and_volume(path: Path, series_uid: str | None) -> tuple[list, list, Any]:
    """(CT series, series that are not CT volumes, the volume read)."""
    from radvoice.imaging import discover, read_volume
    from radvoice.imaging.errors import MissingPathError

    if not path.exists():
        raise MissingPathError(f"{path}: no such file or folder")
    if path.is_dir():
        from radvoice.imaging.dicom_discover import scan_folder
        from radvoice.imaging.dicom_read import read_from_scan

        scan = scan_folder(path)
        return scan.series, scan.refused, read_from_scan(scan, path, series_uid, None, None)
    volume = read_volume(path, series_uid=series_uid)
    return discover(path), [], volume


def collect_info(path: Path, series_uid: str | None = None, phi: bool = False) -> dict[str, Any]:
    """Everything ``radvoice info`` shows, as plain JSON-able values."""
    import numpy as np

    from radvoice.imaging import orientation_code
    from radvoice.imaging.dicom_meta import PHI_KEYS

    series, refused, volume = _series_and_volume(path, series_uid)
    opened = volume.meta.get("SeriesInstanceUID", "")
    arr = volume.array
    meta = {k: v for k, v in volume.meta.items() if phi or k not in PHI_KEYS}
    return {
        "path": str(path),
        "series": [
            {
                "uid": s.uid,
                "description": s.description,
                "n_slices": s.n_slices,
                "rows": s.shape[1],
                "columns": s.shape[2],
                "modality": s.modality,
                "opened": s.uid == opened or len(series) == 1,
            }
            for s in series
        ],
        "not_ct": [
            {
                "uid": s.uid,
                "description": s.description,
                "n_files": len(s.files),
                "modality": s.modality,
                "what": s.refusal,
                "first_file": s.files[0].name if s.files else "",
            }
            for s in refused
        ],
        "shape_xyz": list(volume.size_xyz),
        "spacing_mm": [round(s, 6) for s in volume.spacing],
        "origin_lps_mm": [round(o, 4) for o in volume.origin],
        "direction": np.round(volume.direction, 6).tolist(),
        "orientation": orientation_code(volume.direction),
        "modality": volume.modality,
        "hu_min": int(arr.min()),
        "hu_max": int(arr.max()),
        "size_mb": round(volume.nbytes / 2**20, 2),
        "meta": meta,
        "warnings": list(volume.warnings),
    }


def format_info(info: dict[str, Any]) -> str:
    """Human-readable text for :func:`collect_info`'s result."""
    nx, ny, nz = info["shape_xyz"]
    sx, sy, sz = info["spacing_mm"]
    lines = [f"path:        {info['path']}"]
    if len(info["series"]) > 1 or info["series"][0]["uid"]:
        lines.append(f"series:      {len(info['series'])}")
        for s in info["series"]:
            mark = "*" if s["opened"] else " "
            desc = f" '{s['description']}'" if s["description"] else ""
            lines.append(
                f"  {mark} {s['uid']}{desc}: {s['n_slices']} slices of "
                f"{s['columns']}x{s['rows']} {s['modality']}".rstrip()
            )
    if info.get("not_ct"):
        lines.append(f"not CT:      {len(info['not_ct'])} series left out")
        for s in info["not_ct"]:
            name = s["uid"] or s["first_file"]
            lines.append(f"    {name}: {s['what']} ({s['n_files']} file(s))")
    ox, oy, oz = info["origin_lps_mm"]
    lines += [
        f"shape:       {nx} x {ny} x {nz} voxels (x, y, z)",
        f"spacing:     {sx:.4g} x {sy:.4g} x {sz:.4g} mm",
        f"origin:      ({ox:.2f}, {oy:.2f}, {oz:.2f}) mm LPS",
        f"orientation: {info['orientation']}",
        f"modality:    {info['modality']}",
        f"HU range:    {info['hu_min']} .. {info['hu_max']}",
        f"size:        {info['size_mb']:.1f} MB (int16)",
    ]
    if info["meta"]:
        lines.append("header:")
        lines += [f"  {key}: {value}" for key, value in info["meta"].items()]
    if info["warnings"]:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in info["warnings"]]
    return "\n".join(lines)


def run_info(args: argparse.Namespace) -> int:
    info = collect_info(Path(args.path).expanduser(), args.series, args.phi)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0
