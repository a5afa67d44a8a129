"""Slice order and volume geometry of a DICOM series, with warnings for irregular stacks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from radvoice.imaging.dicom_discover import SliceHeader

GAP_FACTOR = 1.5
"""A step larger than this times the median step means slices are missing."""
SPACING_TOLERANCE = 0.01
"""Relative spread of slice steps (besides gaps) tolerated before warning."""
TILT_DEGREES = 0.5
"""Angle between the slice normal and the stacking direction reported as gantry tilt."""
DUPLICATE_MM = 1e-3


@dataclass
class Geometry:
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray


def select_consistent(slices: list[SliceHeader], warnings: list[str]) -> list[SliceHeader]:
    """Keep the most common (size, orientation) group; warn about the others."""

    def key(h: SliceHeader) -> tuple:
        iop = None if h.orientation is None else tuple(round(v, 3) for v in h.orientation)
        return (h.rows, h.columns, iop)

    counts = Counter(key(h) for h in slices)
    if len(counts) == 1:
        return slices
    best = counts.most_common(1)[0][0]
    kept = [h for h in slices if key(h) == best]
    sizes = {(h.rows, h.columns) for h in slices}
    what = "sizes" if len(sizes) > 1 else "orientations"
    if len(sizes) > 1 and len({key(h)[2] for h in slices}) > 1:
        what = "sizes and orientations"
    warnings.append(
        f"mixed slice {what} in the series: kept {len(kept)} slices of "
        f"{best[1]}x{best[0]}, left out {len(slices) - len(kept)}"
    )
    return kept


def _normal(orientation: tuple[float, ...]) -> np.ndarray:
    row = np.asarray(orientation[:3], dtype=float)
    col = np.asarray(orientation[3:], dtype=float)
    n = np.cross(row, col)
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def sort_slices(slices: list[SliceHeader], warnings: list[str]) -> list[SliceHeader]:
    """Order by position along the slice normal (InstanceNumber if positions are missing);
    drop repeated positions (keeping the lowest InstanceNumber)."""
    if any(h.position is None or h.orientation is None for h in slices):
        warnings.append(
            "no ImagePositionPatient/ImageOrientationPatient: slices ordered by InstanceNumber"
        )
        return sorted(slices, key=lambda h: (h.instance, str(h.path), h.frame or 0))
    n = _normal(slices[0].orientation)  # type: ignore[arg-type]
    ordered = sorted(
        slices,
        key=lambda h: (float(np.dot(h.position, n)), h.instance, str(h.path), h.frame or 0),  # type: ignore[arg-type]
    )
    kept = [ordered[0]]
    for h in ordered[1:]:
        d_prev = float(np.dot(kept[-1].position, n))  # type: ignore[arg-type]
        if abs(float(np.dot(h.position, n)) - d_prev) > DUPLICATE_MM:  # type: ignore[arg-type]
            kept.append(h)
    if len(kept) < len(ordered):
        warnings.append(
            f"{len(ordered) - len(kept)} slices repeat a position already present (several "
            "acquisitions?): kept the first of each"
        )
    return kept


def compute_geometry(slices: list[SliceHeader], warnings: list[str]) -> Geometry:
    """Spacing, origin and direction of sorted slices; warns about gaps, uneven steps, tilt."""
    first = slices[0]
    if first.pixel_spacing is None:
        warnings.append("no PixelSpacing: 1 mm assumed in-plane")
        sy, sx = 1.0, 1.0
    elif not all(np.isfinite(s) and s > 0 for s in first.pixel_spacing):
        warnings.append(f"invalid PixelSpacing {first.pixel_spacing}: 1 mm assumed in-plane")
        sy, sx = 1.0, 1.0
    else:
        sy, sx = first.pixel_spacing  # DICOM order: row spacing (y), column spacing (x)
    if first.orientation is None or first.position is None:
        return Geometry((sx, sy, _thickness_fallback(slices)), (0.0, 0.0, 0.0), np.eye(3))
    row = np.asarray(first.orientation[:3], dtype=float)
    col = np.asarray(first.orientation[3:], dtype=float)
    row /= np.linalg.norm(row) or 1.0
    col /= np.linalg.norm(col) or 1.0
    normal = _normal(first.orientation)
    direction = np.column_stack([row, col, normal])
    sz = 1.0
    if len(slices) > 1:
        pos = np.asarray([h.position for h in slices], dtype=float)
        dist = pos @ normal
        sz = _check_steps(np.diff(dist), warnings)
        _check_tilt(pos, normal, warnings)
    else:
        sz = _thickness_fallback(slices)
    return Geometry((float(sx), float(sy), sz), tuple(first.position), direction)  # type: ignore[arg-type]


def _thickness_fallback(slices: list[SliceHeader]) -> float:
    thickness = slices[0].thickness
    return float(thickness) if thickness and thickness > 0 else 1.0


def nominal_step(steps: np.ndarray) -> float:
    """The regular slice step: the median, unless the steps are whole multiples of a smaller
    step (a regular grid with holes, where gaps can outnumber regular steps)."""
    median = float(np.median(steps))
    smallest = float(steps.min())
    if smallest > 0 and median > GAP_FACTOR * smallest:
        ratios = steps / smallest
        if np.all(np.abs(ratios - np.rint(ratios)) < 0.1):
            return smallest
    return median


def _check_steps(steps: np.ndarray, warnings: list[str]) -> float:
    median = nominal_step(steps)
    gaps = np.nonzero(steps > GAP_FACTOR * median)[0]
    if gaps.size:
        worst = int(gaps[np.argmax(steps[gaps])])
        missing = int(sum(round(steps[g] / median) - 1 for g in gaps))
        warnings.append(
            f"missing slices: {gaps.size} gap(s), about {missing} slice(s) absent; largest "
            f"{steps[worst]:.2f} mm after slice {worst} (step {median:.2f} mm)"
        )
    regular = np.delete(steps, gaps)
    if regular.size and float(regular.max() - regular.min()) > SPACING_TOLERANCE * median:
        warnings.append(
            f"non-uniform slice spacing: steps from {regular.min():.3f} to {regular.max():.3f} mm; "
            f"the volume uses {median:.3f} mm"
        )
    return median


def _check_tilt(pos: np.ndarray, normal: np.ndarray, warnings: list[str]) -> None:
    step = pos[-1] - pos[0]
    length = float(np.linalg.norm(step))
    if length == 0:
        return
    cos = min(1.0, abs(float(np.dot(step, normal))) / length)
    angle = float(np.degrees(np.arccos(cos)))
    if angle > TILT_DEGREES:
        warnings.append(
            f"gantry tilt of {angle:.1f} degrees: slices are stacked along their normal without "
            "shear correction, so positions drift by up to "
            f"{length * np.sin(np.radians(angle)):.1f} mm across the stack"
        )
