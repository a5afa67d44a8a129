"""The 18 CT-RATE findings: painters in a fixed order, each with its own random stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from radvoice.data.phantom import findings_lung as fl
from radvoice.data.phantom import findings_mediastinum as fm
from radvoice.data.phantom.context import Chest
from radvoice.data.phantom.finding_tools import FindingResult

Painter = Callable[[np.ndarray, Chest, np.random.Generator], FindingResult]

# Painting order: structures that displace lung first, then parenchyma, then metal on top.
PAINTERS: dict[str, Painter] = {
    "Cardiomegaly": fm.cardiomegaly,
    "Pericardial effusion": fm.pericardial_effusion,
    "Coronary artery wall calcification": fm.coronary_calcification,
    "Arterial wall calcification": fm.arterial_wall_calcification,
    "Hiatal hernia": fm.hiatal_hernia,
    "Lymphadenopathy": fm.lymphadenopathy,
    "Pleural effusion": fl.pleural_effusion,
    "Emphysema": fl.emphysema,
    "Mosaic attenuation pattern": fl.mosaic_attenuation,
    "Bronchiectasis": fl.bronchiectasis,
    "Peribronchial thickening": fl.peribronchial_thickening,
    "Interlobular septal thickening": fl.interlobular_septal_thickening,
    "Pulmonary fibrotic sequela": fl.pulmonary_fibrotic_sequela,
    "Lung opacity": fl.lung_opacity,
    "Consolidation": fl.consolidation,
    "Atelectasis": fl.atelectasis,
    "Lung nodule": fl.lung_nodule,
    "Medical material": fm.medical_material,
}


def paint_findings(
    hu: np.ndarray,
    chest: Chest,
    names: list[str],
    seed_seq: np.random.SeedSequence,
    painters: Mapping[str, Painter] | None = None,
) -> dict[str, FindingResult]:
    """Paint the named findings into ``hu`` (in place). Each finding draws from its own stream
    derived from ``seed_seq`` and its name, so adding or removing one leaves the others'
    random choices unchanged. ``painters`` replaces :data:`PAINTERS` (same order), e.g. with
    the real-background painters."""
    out: dict[str, FindingResult] = {}
    wanted = set(names)
    for name, painter in (PAINTERS if painters is None else painters).items():
        if name not in wanted:
            continue
        key = [ord(c) for c in name]
        rng = np.random.default_rng(np.random.SeedSequence([*seed_seq.generate_state(4), *key]))
        out[name] = painter(hu, chest, rng)
    return out
