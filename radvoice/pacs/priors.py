"""A patient's earlier chest CTs on the PACS (priors on demand)."""

from __future__ import annotations

from radvoice.pacs.client import PacsClient
from radvoice.pacs.query import StudyInfo, StudyQuery

CHEST_WORDS = ("CHEST", "THORAX", "THORAC", "LUNG", "PULM", "THX")


def is_chest(text: str) -> bool:
    upper = text.upper()
    return any(w in upper for w in CHEST_WORDS)


def _is_ct(study: StudyInfo) -> bool:
    mods = {m.strip().upper() for m in study.modalities.split("\\") if m.strip()}
    return not mods or "CT" in mods


def find_priors(
    client: PacsClient, patient_id: str, current_study_uid: str = "", current_date: str = ""
) -> list[StudyInfo]:
    """The patient's other CT studies dated on or before ``current_date``, newest first.

    A study counts as chest when its description says so or, when it says nothing, when one
    of its CT series' body part does; studies with neither are kept (unknown region).
    """
    if not patient_id:
        return []
    studies = client.find_studies(StudyQuery(patient_id=patient_id))
    out = []
    for st in studies:
        if st.study_uid == current_study_uid or st.patient_id != patient_id or not _is_ct(st):
            continue
        if current_date and st.study_date and st.study_date > current_date:
            continue
        if st.description and not is_chest(st.description):
            continue
        if not st.description:
            parts = [s.body_part for s in client.find_series(st.study_uid) if s.modality == "CT"]
            if any(parts) and not any(is_chest(p) for p in parts):
                continue
        out.append(st)
    return sorted(out, key=lambda s: (s.study_date, s.study_time), reverse=True)
