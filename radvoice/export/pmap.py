"""A heat map (any float32 array on the source grid) as a DICOM Parametric Map (highdicom)."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from radvoice.export.errors import ExportError
from radvoice.export.findings import ALGORITHM_NAME
from radvoice.export.source import check_grid


def build_parametric_map(
    sources: list[Dataset],
    values: np.ndarray,
    label: str,
    algorithm_version: str,
    series_number: int = 902,
    algorithm_name: str = ALGORITHM_NAME,
) -> hd.pm.ParametricMap:
    """``values`` (nz, ny, nx) on the grid of ``sources`` (sorted like the volume) as floats."""
    values = np.asarray(values)
    if values.ndim != 3:
        raise ExportError(f"a heat map must be 3-D (nz, ny, nx), got shape {values.shape}")
    check_grid(sources, values.shape)
    if not np.isfinite(values).all():
        raise ExportError("the heat map has NaN or infinite values")
    values = values.astype(np.float32, copy=False)
    lo, hi = float(values.min()), float(values.max())
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="HEATMAP",
        lut_explanation=f"{label}: model attention (relative)"[:64],
        unit=codes.UCUM.NoUnits,
        value_range=(min(lo, 0.0), max(hi, 1.0)),
        slope=1.0,
        intercept=0.0,
    )
    pm = hd.pm.ParametricMap(
        source_images=sources,
        pixel_array=values,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="RadVoice",
        manufacturer_model_name=algorithm_name[:64],
        software_versions=algorithm_version[:64],
        device_serial_number="0",
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=0.5, window_width=1.0)],
        content_label="HEATMAP",
        content_description=f"{label} heat map (preliminary)"[:64],
        series_description=f"RadVoice heat map: {label}"[:64],
    )
    if "Laterality" not in pm:
        pm.Laterality = ""  # General Series type 2C: empty, the chest is not a paired part
    return pm


def read_parametric_map(ds: Dataset) -> np.ndarray:
    """A parametric map's frames as (nz, ny, nx) real-world values, sorted along the slice
    normal like the reader sorts CT slices (the writer may store frames in another order)."""
    pm = ds if isinstance(ds, hd.pm.ParametricMap) else hd.pm.ParametricMap.from_dataset(ds)
    shared = pm.SharedFunctionalGroupsSequence[0]
    o = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(o[:3], o[3:])
    pos = [
        float(np.dot(normal, np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float)))
        for f in pm.PerFrameFunctionalGroupsSequence
    ]
    frames = pm.pixel_array.reshape(len(pos), int(pm.Rows), int(pm.Columns))
    return np.ascontiguousarray(frames[np.argsort(pos, kind="stable")])
