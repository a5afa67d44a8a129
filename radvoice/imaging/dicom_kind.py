"""Is this DICOM object a CT volume? The one place that decides, from header values only.

A CT volume is a CT image (CT, Enhanced CT or Legacy Converted Enhanced CT Image Storage, or an
old file with Modality CT and no SOP class) that is not a localizer, in a series with pixel
spacing or more than one slice. Anything else (projection radiographs, MR, PET, ultrasound,
secondary captures, segmentations, reports, presentation states...) is refused with a one-line
reason naming what it is, e.g. ``RG1.dcm: a CR projection radiograph (Computed Radiography
Image Storage), not a CT volume``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.uid import UID

from radvoice.imaging.errors import NotCTVolumeError
from radvoice.imaging.series import SeriesInfo

_STORAGE = "1.2.840.10008.5.1.4.1.1."
CT_SOP_CLASSES = frozenset({_STORAGE + "2", _STORAGE + "2.1", _STORAGE + "2.2"})
MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"
"""DICOMDIR: an index of the files beside it, neither refused nor read."""

_PROJECTION = "projection radiograph"
# (UID suffix after 1.2.840.10008.5.1.4.1.1., what it is, default modality); a suffix also
# matches the classes below it (``"88"`` is every SR class). The longest match wins.
_FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("1", _PROJECTION, "CR"),
    ("1.1", _PROJECTION, "DX"),
    ("1.2", _PROJECTION, "MG"),
    ("1.3", _PROJECTION, "IO"),
    ("12", _PROJECTION, "XA"),
    ("12.2", _PROJECTION, "RF"),
    ("13.1.1", "3D X-ray reconstruction", "XA"),
    ("13.1.2", "3D X-ray reconstruction", "DX"),
    ("13.1.3", "breast tomosynthesis volume", "MG"),
    ("13.1.4", _PROJECTION, "MG"),
    ("13.1.5", _PROJECTION, "MG"),
    ("481.1", "RT portal image", ""),
    ("481.23", "RT portal image", ""),
    ("481.24", "RT portal image", ""),
    ("501.2", _PROJECTION, "DX"),
    ("3", "ultrasound image", ""),
    ("6", "ultrasound image", ""),
    ("4", "image", "MR"),
    ("4.2", "MR spectroscopy object", ""),
    ("5", "nuclear medicine image", ""),
    ("20", "nuclear medicine image", ""),
    ("128", "image", "PET"),
    ("130", "image", "PET"),
    ("7", "secondary capture", ""),
    ("8", "overlay", ""),
    ("9", "waveform", ""),
    ("10", "lookup table", ""),
    ("11", "lookup table", ""),
    ("11.1", "presentation state", ""),
    ("11.2", "presentation state", ""),
    ("11.3", "presentation state", ""),
    ("11.4", "presentation state", ""),
    ("11.5", "presentation state", ""),
    ("11.6", "presentation state", ""),
    ("11.7", "presentation state", ""),
    ("11.8", "presentation state", ""),
    ("11.9", "presentation state", ""),
    ("11.10", "presentation state", ""),
    ("11.11", "presentation state", ""),
    ("11.12", "presentation state", ""),
    ("14", "optical coherence tomography image", ""),
    ("30", "parametric map", ""),
    ("66", "raw data object", ""),
    ("66.1", "spatial registration", ""),
    ("66.2", "spatial fiducials object", ""),
    ("66.3", "spatial registration", ""),
    ("66.4", "segmentation", ""),
    ("66.5", "segmentation", ""),
    ("77", "visible-light photograph", ""),
    ("88", "structured report", ""),
    ("104", "encapsulated document", ""),
    ("481", "radiotherapy (RT) object", ""),
    ("481.2", "RT dose grid", ""),
    ("501.1", "security-screening CT image", ""),
)
_BY_MODALITY: dict[str, str] = {
    "CR": _PROJECTION, "DX": _PROJECTION, "MG": _PROJECTION, "IO": _PROJECTION,
    "XA": _PROJECTION, "RF": _PROJECTION, "RG": _PROJECTION, "PX": _PROJECTION,
    "RTIMAGE": "RT portal image", "MR": "image", "PT": "image", "NM": "nuclear medicine image",
    "US": "ultrasound image", "OT": "secondary capture", "SC": "secondary capture",
    "SEG": "segmentation", "SR": "structured report", "PR": "presentation state",
    "RTDOSE": "RT dose grid", "RTSTRUCT": "RT structure set", "RTPLAN": "RT treatment plan",
}  # fmt: skip


def _article(word: str) -> str:
    """``a`` or ``an`` as the word is spoken (letters of an acronym: "an MR", "a CR")."""
    if not word:
        return "a"
    if word.isupper():  # an acronym, spelt out
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[0].lower() in "aeiou" else "a"


def _family(sop_class: str) -> tuple[str, str] | None:
    if not sop_class.startswith(_STORAGE):
        return None
    suffix = sop_class[len(_STORAGE) :]
    best: tuple[str, str, str] | None = None
    for prefix, what, modality in _FAMILIES:
        if (suffix == prefix or suffix.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, what, modality)
    return None if best is None else (best[1], best[2])


def _phrase(what: str, modality: str) -> str:
    """``"a CR projection radiograph"``, ``"an MR image"``, ``"a structured report"``: the
    modality is named for images and radiographs only."""
    if modality == "PT":
        modality = "PET"
    words = f"{modality} {what}" if modality and what in ("image", _PROJECTION) else what
    return f"{_article(words.split()[0])} {words}"


def object_kind(sop_class: str, modality: str, image_type: tuple[str, ...] = ()) -> str | None:
    """What a DICOM object is, when it is not a CT image; None for a CT image (or an object
    that cannot be told apart from one: no SOP class and no Modality).

    The answer names the kind and, in brackets, the SOP class (or the Modality), e.g.
    ``"a CR projection radiograph (Computed Radiography Image Storage)"``.
    """
    sop_class, modality = sop_class.strip(), modality.strip().upper()
    if sop_class in CT_SOP_CLASSES or (not sop_class and modality in ("CT", "")):
        if any(v.strip().upper() == "LOCALIZER" for v in image_type):
            return f"a CT localizer (scout) image ({_sop_name(sop_class, modality)})"
        return None
    family = _family(sop_class)
    if family is not None:
        what, default = family
        mod = modality or default
        if what == "image" and mod not in ("MR", "PT", "PET"):
            mod = default
        return f"{_phrase(what, mod)} ({_sop_name(sop_class, modality)})"
    if modality in _BY_MODALITY:
        what = _phrase(_BY_MODALITY[modality], modality)
    else:
        what = f"{_article(modality)} {modality} object" if modality else "a non-CT object"
    return f"{what} ({_sop_name(sop_class, modality)})"


def _sop_name(sop_class: str, modality: str) -> str:
    if not sop_class:
        return f"Modality {modality or 'unknown'}"
    name = UID(sop_class).name
    return name if name and name != sop_class else f"SOP class {sop_class}"


def series_kind(info: SeriesInfo) -> str | None:
    """What a series of CT images is when it still is not a CT volume: a single frame without
    pixel spacing (a screen capture stored as CT, a dose page...). None for a CT volume."""
    if len(info.slices) != 1:
        return None
    spacing = info.slices[0].pixel_spacing
    if spacing is None or not all(s > 0 for s in spacing):
        return "a single CT image without pixel spacing"
    return None


def refusal_message(name: str, what: str) -> str:
    """The one line shown to the user: ``"NAME: WHAT, not a CT volume"``."""
    return f"{name}: {what}, not a CT volume"


def series_refusal(info: SeriesInfo) -> str:
    """The refusal line of a non-CT series: named by its file when it has one."""
    what = info.refusal or "not a CT image"
    if len(info.files) == 1:
        return refusal_message(info.files[0].name, what)
    desc = f" '{info.description}'" if info.description else ""
    first = f", e.g. {info.files[0].name}" if info.files else ""
    return refusal_message(f"series {info.uid}{desc} ({len(info.files)} files{first})", what)


def refuse(info: SeriesInfo) -> NotCTVolumeError:
    """The error to raise for a non-CT series."""
    return NotCTVolumeError(series_refusal(info))


@dataclass
class RefusedFile:
    """A DICOM file whose header says it is not a CT image."""

    path: Path
    kind: str
    series_uid: str
    rows: int = 0
    columns: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def group_refused(files: list[RefusedFile]) -> list[SeriesInfo]:
    """Refused files as series (by SeriesInstanceUID; a file without one on its own), each
    with the most common ``refusal`` of its files."""
    groups: dict[str, list[RefusedFile]] = {}
    for f in files:
        groups.setdefault(f.series_uid or f"file:{f.path}", []).append(f)
    out = []
    for fs in groups.values():
        first = fs[0]
        number = first.meta.get("SeriesNumber")
        out.append(
            SeriesInfo(
                uid=first.series_uid,
                description=str(first.meta.get("SeriesDescription", "")),
                n_slices=len(fs),
                shape=(len(fs), first.rows, first.columns),
                modality=str(first.meta.get("Modality", "")),
                files=[f.path for f in fs],
                series_number=number if isinstance(number, int) else None,
                study_uid=str(first.meta.get("StudyInstanceUID", "")),
                meta=first.meta,
                refusal=Counter(f.kind for f in fs).most_common(1)[0][0],
            )
        )
    return out


def no_ct_error(folder: Path, refused: list[SeriesInfo]) -> NotCTVolumeError:
    """The error for a folder whose DICOM objects are none of them a CT volume: the refusal
    of its first image series (else its first object), and how many others there are."""
    ranked = sorted(refused, key=lambda s: s.shape[1] * s.shape[2] == 0)
    if not ranked:
        return NotCTVolumeError(f"{folder}: no CT volume found")
    line = series_refusal(ranked[0])
    if len(ranked) > 1:
        line += f" (and {len(ranked) - 1} other non-CT series in {folder.name or folder})"
    return NotCTVolumeError(line)
