"""Short spoken questions a radiologist asks about a finding, mapped to CT-RATE labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from radvoice.labels import PATHOLOGIES


@dataclass(frozen=True)
class Query:
    text: str
    label: str
    answer: int | None  # 1 present, 0 absent, None unknown for this case

    def to_dict(self) -> dict:
        return asdict(self)


# Each label: the names people say (singular, plural-ish) and a few free-form questions.
SYNONYMS: dict[str, list[str]] = {
    "Medical material": [
        "medical devices",
        "a pacemaker",
        "any hardware",
        "sternal wires",
        "a port catheter",
        "metal",
    ],
    "Arterial wall calcification": [
        "aortic calcification",
        "arterial wall calcification",
        "atherosclerosis of the aorta",
        "calcified plaques in the aorta",
        "vascular calcifications",
    ],
    "Cardiomegaly": ["cardiomegaly", "an enlarged heart", "cardiac enlargement", "a big heart"],
    "Pericardial effusion": [
        "a pericardial effusion",
        "pericardial fluid",
        "fluid around the heart",
        "effusion in the pericardium",
    ],
    "Coronary artery wall calcification": [
        "coronary calcification",
        "calcified coronaries",
        "coronary artery calcium",
        "coronary plaques",
    ],
    "Hiatal hernia": [
        "a hiatal hernia",
        "a hiatus hernia",
        "a sliding hernia",
        "stomach above the diaphragm",
    ],
    "Lymphadenopathy": [
        "lymphadenopathy",
        "enlarged lymph nodes",
        "enlarged nodes",
        "mediastinal nodes",
        "hilar adenopathy",
    ],
    "Emphysema": ["emphysema", "emphysematous changes", "bullae", "centrilobular emphysema"],
    "Atelectasis": [
        "atelectasis",
        "atelectatic changes",
        "collapse of the lung",
        "plate-like atelectasis",
    ],
    "Lung nodule": [
        "a lung nodule",
        "nodules",
        "a pulmonary nodule",
        "a spot on the lung",
        "a nodule",
    ],
    "Lung opacity": [
        "ground-glass opacity",
        "ground glass",
        "lung opacities",
        "hazy densities",
        "an opacity",
    ],
    "Pulmonary fibrotic sequela": [
        "fibrosis",
        "fibrotic bands",
        "scarring",
        "fibrotic sequelae",
        "parenchymal bands",
    ],
    "Pleural effusion": [
        "a pleural effusion",
        "pleural fluid",
        "fluid in the chest",
        "effusions",
        "fluid around the lungs",
    ],
    "Mosaic attenuation pattern": [
        "mosaic attenuation",
        "a mosaic pattern",
        "air trapping",
        "mosaic perfusion",
    ],
    "Peribronchial thickening": [
        "peribronchial thickening",
        "bronchial wall thickening",
        "thick bronchial walls",
        "peribronchial cuffing",
    ],
    "Consolidation": ["consolidation", "pneumonia", "airspace disease", "a consolidated lobe"],
    "Bronchiectasis": [
        "bronchiectasis",
        "dilated bronchi",
        "bronchial dilatation",
        "signet ring signs",
    ],
    "Interlobular septal thickening": [
        "septal thickening",
        "interlobular septal thickening",
        "thickened septa",
        "Kerley lines",
    ],
}

FRAMES = [
    "is there {s}",
    "is there {s}?",
    "any {s}?",
    "do you see {s}",
    "check for {s}",
    "look for {s}",
    "rule out {s}",
    "show me {s}",
    "does this patient have {s}",
    "evaluate for {s}",
    "can you find {s}",
    "what about {s}?",
    "{s}?",
    "any sign of {s}",
]


def phrasings(label: str) -> list[str]:
    """All query texts for a label (synonyms x frames), de-duplicated, stable order."""
    out: list[str] = []
    for syn in SYNONYMS[label]:
        for frame in FRAMES:
            s = syn
            if frame.startswith("any") and s.startswith(("a ", "an ")):
                s = s.split(" ", 1)[1]
            text = frame.format(s=s)
            if text not in out:
                out.append(text)
    return out


ALL_QUERIES: list[tuple[str, str]] = [(t, label) for label in PATHOLOGIES for t in phrasings(label)]


def sample_queries(
    labels: np.ndarray, rng: np.random.Generator, n: int, known: np.ndarray | None = None
) -> list[Query]:
    """``n`` queries for a case: about half about its positive labels, the rest about others."""
    pos = [PATHOLOGIES[i] for i in np.flatnonzero(labels)]
    neg = [p for p in PATHOLOGIES if p not in pos]
    out = []
    for _ in range(n):
        pool = pos if (pos and (not neg or rng.random() < 0.5)) else neg
        label = pool[int(rng.integers(0, len(pool)))]
        texts = phrasings(label)
        idx = PATHOLOGIES.index(label)
        answer = None if known is not None and not known[idx] else int(labels[idx])
        out.append(Query(texts[int(rng.integers(0, len(texts)))], label, answer))
    return out
