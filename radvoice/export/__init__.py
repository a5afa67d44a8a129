"""AI results out (Qt-free): DICOM SR (TID 1500), Parametric Map, and a plain PNG + JSON.

``FindingsReport`` holds the zero-shot answer; ``load_source_series`` reads the CT series the
results refer to; ``build_findings_sr`` / ``build_parametric_map`` make the DICOM objects;
``export_results`` writes them (and the plain files) to a folder.
"""

from radvoice.export.errors import ExportError
from radvoice.export.findings import FindingsReport
from radvoice.export.pmap import build_parametric_map
from radvoice.export.source import load_source_series
from radvoice.export.sr import build_findings_sr
from radvoice.export.writer import ExportedFiles, export_results

__all__ = [
    "ExportError",
    "ExportedFiles",
    "FindingsReport",
    "build_findings_sr",
    "build_parametric_map",
    "export_results",
    "load_source_series",
]
