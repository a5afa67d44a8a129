"""Multi-frame (Enhanced CT) files: one :class:`SliceHeader` per frame from functional groups."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pydicom

from radvoice.imaging.series import SliceHeader


def _item(ds: pydicom.Dataset, keyword: str) -> pydicom.Dataset | None:
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _group_value(groups: list[pydicom.Dataset | None], sequence: str, keyword: str) -> Any:
    """``keyword`` from the first functional group (per-frame, then shared) that has it."""
    for group in groups:
        if group is None:
            continue
        item = _item(group, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(math.isfinite(v) for v in out) else None


def expand_frames(ds: pydicom.Dataset, hdr: SliceHeader) -> list[SliceHeader]:
    """``[hdr]`` for a single-frame file; one header per frame (with ``frame`` set) otherwise.

    Frame geometry and rescale come from the per-frame functional groups, falling back to the
    shared ones and then to the top-level attributes.
    """
    if hdr.frames <= 1:
        return [hdr]
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    out: list[SliceHeader] = []
    for i in range(hdr.frames):
        groups = [per_frame[i] if i < len(per_frame) else None, shared]
        position = _floats(
            _group_value(groups, "PlanePositionSequence", "ImagePositionPatient") or (), 3
        )
        orientation = _floats(
            _group_value(groups, "PlaneOrientationSequence", "ImageOrientationPatient") or (), 6
        )
        spacing = _floats(_group_value(groups, "PixelMeasuresSequence", "PixelSpacing") or (), 2)
        thickness = _group_value(groups, "PixelMeasuresSequence", "SliceThickness")
        slope = _group_value(groups, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = _group_value(groups, "PixelValueTransformationSequence", "RescaleIntercept")
        out.append(
            replace(
                hdr,
                frame=i,
                position=position if position is not None else hdr.position,  # type: ignore[arg-type]
                orientation=orientation or hdr.orientation,
                pixel_spacing=spacing or hdr.pixel_spacing,  # type: ignore[arg-type]
                thickness=float(thickness) if thickness else hdr.thickness,
                slope=float(slope) if slope not in (None, "") else hdr.slope,
                intercept=float(intercept) if intercept not in (None, "") else hdr.intercept,
            )
        )
    if all(h.position == hdr.position for h in out) and hdr.frames > 1:
        out = [replace(h, position=None) for h in out]  # no per-frame positions: frame order
    return out
