"""CT-RATE style radiology reports (Findings + Impression) written from a case's ground truth.

Every positive label gets a sentence built from its painted attributes (side, lobe or
station, size, severity); absent labels are often negated; sentences follow the anatomical
order trachea/bronchi -> mediastinum -> heart and vessels -> lungs -> pleura -> upper abdomen
-> bones. Each sentence speaks about one label only, so the text never claims an absent one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from radvoice.labels import PATHOLOGIES, PATHOLOGY_INDEX


@dataclass(frozen=True)
class Report:
    findings: str
    impression: str

    @property
    def text(self) -> str:
        return f"Findings: {self.findings}\nImpression: {self.impression}"

    def to_dict(self) -> dict[str, str]:
        return {"findings": self.findings, "impression": self.impression}


Attrs = dict[str, Any]


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _side_phrase(side: str | None, noun: str = "lung") -> str:
    if side == "bilateral":
        return f"both {noun}s" if noun else "both sides"
    if side in ("right", "left"):
        return f"the {side} {noun}"
    return f"the {noun}s"


def _lobes(a: Attrs, fallback_side: str | None = None) -> str:
    lobes = [str(x) for x in a.get("lobes", []) if x]
    if lobes:
        return _join(["the " + x if x != "both lungs" else x for x in lobes])
    return _side_phrase(a.get("side", fallback_side))


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(0, len(options)))]


# --------------------------------------------------------------------- positive sentences
def _medical_material(a: Attrs, rng: np.random.Generator) -> str:
    kind = a.get("kind", "device")
    if kind == "pacemaker":
        return _pick(
            rng,
            [
                "A cardiac pacemaker is present, with its generator in the left infraclavicular subcutaneous tissue and leads extending into the right heart chambers.",
                "Permanent pacemaker with a left pectoral generator and transvenous leads in the right atrium and ventricle.",
                "A pacemaker device is seen in the left anterior chest wall; its electrodes course through the superior vena cava into the right heart.",
            ],
        )
    if kind == "sternotomy wires":
        return _pick(
            rng,
            [
                "Median sternotomy wires are present.",
                "Sternal cerclage wires consistent with previous median sternotomy.",
                "Postoperative changes of median sternotomy with intact sternal wires.",
            ],
        )
    if kind == "port catheter":
        return _pick(
            rng,
            [
                "A port catheter is seen in the right anterior chest wall with its tip in the superior vena cava.",
                "Implanted venous port in the right pectoral region; the catheter tip projects over the superior vena cava.",
                "A right-sided chest port with its catheter terminating in the superior vena cava.",
            ],
        )
    return _pick(
        rng,
        [
            "Surgical clips are noted in the thorax.",
            "Metallic surgical clips are present.",
            "Postoperative metallic clips are seen.",
        ],
    )


def _arterial(a: Attrs, rng: np.random.Generator) -> str:
    where = _join(a.get("segments", ["thoracic aorta"]))
    sev = a.get("severity", "mild")
    return _pick(
        rng,
        [
            f"Calcified atherosclerotic plaques are seen in the {where}.",
            f"{sev.capitalize()} atherosclerotic calcification of the aortic wall, involving the {where}.",
            f"Atheromatous plaques with calcification are present along the wall of the {where}.",
            f"Vascular wall calcifications are noted in the {where}.",
            f"There are {sev} calcific atherosclerotic changes of the thoracic aorta ({where}).",
        ],
    )


def _cardiomegaly(a: Attrs, rng: np.random.Generator) -> str:
    ctr = a.get("ctr")
    sev = a.get("severity", "mild")
    return _pick(
        rng,
        [
            "Cardiomegaly is present.",
            f"The heart is enlarged{f' (cardiothoracic ratio about {ctr:.2f})' if ctr else ''}.",
            f"{sev.capitalize()} cardiomegaly.",
            "Cardiac enlargement is noted.",
            "Heart size is increased.",
            f"Enlarged heart, {sev} in degree.",
        ],
    )


def _pericardial(a: Attrs, rng: np.random.Generator) -> str:
    t = a.get("thickness_mm")
    sev = a.get("severity", "small")
    return _pick(
        rng,
        [
            f"A {sev} pericardial effusion is present{f', measuring up to {t:.0f} mm in thickness' if t else ''}.",
            f"{sev.capitalize()} pericardial fluid surrounds the heart.",
            f"Pericardial effusion with a maximal thickness of {t:.0f} mm."
            if t
            else "Pericardial effusion is seen.",
            "There is fluid in the pericardial space.",
            f"A {sev} amount of pericardial fluid is noted.",
        ],
    )


def _coronary(a: Attrs, rng: np.random.Generator) -> str:
    vessels = _join([f"{v}" for v in a.get("vessels", ["coronary"])])
    sev = a.get("severity", "mild")
    return _pick(
        rng,
        [
            f"Calcified plaques are seen in the {vessels} coronary artery territory.",
            f"Coronary artery calcification involving the {vessels}.",
            f"{sev.capitalize()} calcification of the coronary artery walls ({vessels}).",
            f"There are coronary calcifications along the {vessels}.",
            f"Atherosclerotic calcific plaques in the coronary arteries, {vessels}.",
        ],
    )


def _hiatal(a: Attrs, rng: np.random.Generator) -> str:
    s = a.get("size_mm")
    sev = a.get("severity", "small")
    return _pick(
        rng,
        [
            f"A {sev} hiatal hernia is present.",
            f"Hiatus hernia measuring about {s} mm." if s else "Hiatus hernia is seen.",
            "Part of the stomach has herniated through the esophageal hiatus (hiatal hernia).",
            f"A sliding hiatal hernia of {sev} size is seen behind the heart.",
            "Hiatal hernia is observed at the lower end of the esophagus.",
        ],
    )


def _lymph(a: Attrs, rng: np.random.Generator) -> str:
    st = _join(a.get("stations", ["mediastinal"]))
    s = a.get("short_axis_mm")
    size = f", the largest with a short axis of {s} mm" if s else ""
    return _pick(
        rng,
        [
            f"Enlarged lymph nodes are seen at the {st} station{'s' if len(a.get('stations', [])) > 1 else ''}{size}.",
            f"Lymphadenopathy is present in the {st} region{size}.",
            f"Pathologically enlarged lymph nodes in the {st} location{size}.",
            f"Lymph nodes of increased size are noted at the {st} level{size}.",
            f"There is {st} lymphadenopathy{size}.",
        ],
    )


def _emphysema(a: Attrs, rng: np.random.Generator) -> str:
    kind, sev = a.get("kind", "centrilobular"), a.get("severity", "mild")
    zone = a.get("zone", "upper")
    zone_txt = {
        "upper": "with upper lobe predominance",
        "lower": "predominantly in the lower lobes",
    }.get(zone, "diffusely")
    side = _side_phrase(a.get("side", "bilateral"))
    out = [
        f"{sev.capitalize()} {kind} emphysema is seen in {side} {zone_txt}.",
        f"Emphysematous changes of {kind} type in {side}.",
        f"There is {sev} {kind} emphysema {zone_txt}.",
        f"Areas of {kind} emphysema are present in {side}.",
    ]
    if kind == "paraseptal":
        out.append(f"Subpleural bullae consistent with paraseptal emphysema in {side}.")
    else:
        out.append(
            f"{kind.capitalize()} emphysematous destruction of the lung parenchyma, {sev} in extent."
        )
    return _pick(rng, out)


def _atelectasis(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    if a.get("kind") == "dependent":
        return _pick(
            rng,
            [
                f"Dependent atelectasis is seen in the posterior basal parts of {where}.",
                f"Subsegmental atelectatic changes in the dependent portions of {where}.",
                f"Passive atelectasis in the posterior {where}.",
                f"Atelectatic changes are present in the dependent {where}.",
                f"Posterior basal atelectasis of {where}.",
            ],
        )
    return _pick(
        rng,
        [
            f"Linear atelectasis is seen in {where}.",
            f"Plate-like subsegmental atelectasis in {where}.",
            f"Band-like atelectatic changes in {where}.",
            f"Discoid atelectasis is noted in {where}.",
            f"There are subsegmental atelectases in {where}.",
        ],
    )


def _nodule(a: Attrs, rng: np.random.Generator) -> str:
    nods = a.get("nodules", [])
    if not nods:
        return "A pulmonary nodule is present."
    first = nods[0]
    kind = {"solid": "solid", "part-solid": "part-solid", "calcified": "calcified"}.get(
        first["kind"], ""
    )
    lobe = first["lobe"]
    size = first["size_mm"]
    more = ""
    if len(nods) > 1:
        others = _join(sorted({n["lobe"] for n in nods[1:]}))
        more = f" {len(nods) - 1} additional smaller nodule{'s' if len(nods) > 2 else ''} in the {others}."
    return _pick(
        rng,
        [
            f"A {size} mm {kind} nodule is seen in the {lobe}.{more}",
            f"There is a {kind} pulmonary nodule measuring {size} mm in the {lobe}.{more}",
            f"{kind.capitalize()} nodule in the {lobe}, {size} mm in diameter.{more}",
            f"A nodular lesion of {size} mm ({kind}) is present in the {lobe}.{more}",
            f"In the {lobe}, a {kind} nodule with a diameter of {size} mm is noted.{more}",
        ],
    ).replace("  ", " ")


def _opacity(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    pat = a.get("pattern", "patchy")
    if pat == "focal":
        s = a.get("size_mm")
        return _pick(
            rng,
            [
                f"A focal ground-glass opacity of about {s} mm is seen in {where}.",
                f"Focal hazy increase in density (ground-glass opacity) in {where}.",
                f"A ground glass area measuring {s} mm in {where}.",
                f"Focal ground-glass opacity in {where}.",
                f"There is a {s} mm ground-glass opacity in {where}.",
            ],
        )
    adj = "peripheral" if pat == "peripheral" else "patchy"
    return _pick(
        rng,
        [
            f"{adj.capitalize()} ground-glass opacities are seen in {where}.",
            f"There are {adj} areas of ground-glass opacity in {where}.",
            f"Ground glass densities with a {adj} distribution in {where}.",
            f"{adj.capitalize()} hazy opacities in {where}.",
            f"Multifocal ground-glass opacities, {adj} in distribution, involving {where}.",
        ],
    )


def _fibrotic(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    return _pick(
        rng,
        [
            f"Fibrotic bands are seen in {where}.",
            f"Parenchymal bands consistent with fibrotic sequelae in {where}.",
            f"Sequelae of fibrosis with linear scarring in {where}.",
            f"Fibrotic changes are noted in {where}.",
            f"Linear fibrotic densities (sequelae) in {where}.",
        ],
    )


def _pleural(a: Attrs, rng: np.random.Generator) -> str:
    side, sev = a.get("side", "right"), a.get("severity", "small")
    side_txt = "bilateral" if side == "bilateral" else side
    plural = "s" if side == "bilateral" else ""
    return _pick(
        rng,
        [
            f"A {sev} {side_txt} pleural effusion is present."
            if not plural
            else f"{sev.capitalize()} bilateral pleural effusions are present.",
            f"{sev.capitalize()} {side_txt} pleural effusion{plural}.",
            f"There is {sev} pleural fluid on the {side_txt} side{plural}."
            if side != "bilateral"
            else f"There is {sev} pleural fluid on both sides.",
            f"Pleural effusion{plural}, {side_txt}, {sev} in amount.",
            f"{sev.capitalize()} amount of fluid in the {side_txt + ' ' if side != 'bilateral' else 'bilateral '}pleural space{plural}.",
        ],
    )


def _mosaic(a: Attrs, rng: np.random.Generator) -> str:
    side = _side_phrase(a.get("side", "bilateral"))
    ext = a.get("extent", "patchy")
    return _pick(
        rng,
        [
            f"A mosaic attenuation pattern is seen in {side}.",
            f"{ext.capitalize()} mosaic attenuation of the lung parenchyma.",
            f"Mosaic perfusion pattern in {side}, which may reflect small airway disease.",
            f"Heterogeneous lung attenuation with geographic areas of lower density (mosaic pattern) in {side}.",
            f"Areas of mosaic attenuation suggesting air trapping in {side}.",
        ],
    )


def _peribronchial(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    return _pick(
        rng,
        [
            f"Peribronchial thickening is seen in {where}.",
            f"Bronchial wall thickening in {where}.",
            f"Thickened bronchial walls are noted in {where}.",
            f"There is peribronchial thickening involving {where}.",
            f"Peribronchial cuffing in {where}.",
        ],
    )


def _consolidation(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    s = a.get("size_mm")
    ab = " with air bronchograms" if a.get("air_bronchograms") else ""
    return _pick(
        rng,
        [
            f"Consolidation{ab} is present in {where}.",
            f"An area of consolidation measuring about {s} mm{ab} in {where}."
            if s
            else f"An area of consolidation{ab} in {where}.",
            f"Airspace consolidation{ab} involving {where}.",
            f"Consolidated lung parenchyma{ab} in {where}.",
            f"There is consolidation in {where}{ab}.",
        ],
    )


def _bronchiectasis(a: Attrs, rng: np.random.Generator) -> str:
    where = _lobes(a)
    kind = a.get("kind", "cylindrical")
    return _pick(
        rng,
        [
            f"{kind.capitalize()} bronchiectasis is seen in {where}.",
            f"Bronchiectatic changes in {where}.",
            f"Dilated bronchi (signet ring sign) in {where}, consistent with bronchiectasis.",
            f"Bronchial dilatation of {kind} type in {where}.",
            f"There is {kind} bronchiectasis involving {where}.",
        ],
    )


def _septal(a: Attrs, rng: np.random.Generator) -> str:
    side = _side_phrase(a.get("side", "bilateral"))
    zone = "basal " if a.get("zone") == "lower" else ""
    return _pick(
        rng,
        [
            f"Interlobular septal thickening is seen in the {zone}periphery of {side}.",
            f"Thickened interlobular septa in the subpleural {zone}regions of {side}.",
            f"Smooth septal thickening in {side}.",
            f"Septal lines (Kerley lines) in the {zone}periphery of {side}.",
            f"There is interlobular septal thickening in {side}.",
        ],
    )


POSITIVE: dict[str, Callable[[Attrs, np.random.Generator], str]] = {
    "Medical material": _medical_material,
    "Arterial wall calcification": _arterial,
    "Cardiomegaly": _cardiomegaly,
    "Pericardial effusion": _pericardial,
    "Coronary artery wall calcification": _coronary,
    "Hiatal hernia": _hiatal,
    "Lymphadenopathy": _lymph,
    "Emphysema": _emphysema,
    "Atelectasis": _atelectasis,
    "Lung nodule": _nodule,
    "Lung opacity": _opacity,
    "Pulmonary fibrotic sequela": _fibrotic,
    "Pleural effusion": _pleural,
    "Mosaic attenuation pattern": _mosaic,
    "Peribronchial thickening": _peribronchial,
    "Consolidation": _consolidation,
    "Bronchiectasis": _bronchiectasis,
    "Interlobular septal thickening": _septal,
}

NEGATIVE: dict[str, list[str]] = {
    "Arterial wall calcification": [
        "No atherosclerotic calcification is seen in the thoracic aorta.",
        "The aortic wall shows no calcified plaque.",
    ],
    "Cardiomegaly": [
        "Heart size is normal.",
        "Heart contour and size are normal.",
        "No cardiomegaly.",
    ],
    "Pericardial effusion": [
        "Pericardial effusion-thickening was not observed.",
        "No pericardial effusion.",
        "There is no pericardial fluid.",
    ],
    "Coronary artery wall calcification": [
        "No coronary artery calcification.",
        "The coronary arteries show no calcification.",
    ],
    "Hiatal hernia": ["No hiatal hernia.", "There is no hiatus hernia."],
    "Lymphadenopathy": [
        "No lymph node was detected in mediastinal and bilateral hilar pathological size.",
        "No enlarged lymph nodes.",
        "Mediastinal and hilar lymph nodes are not enlarged.",
    ],
    "Emphysema": ["No emphysema.", "No emphysematous changes are seen."],
    "Atelectasis": ["No atelectasis.", "There is no atelectasis."],
    "Lung nodule": [
        "No nodule or mass was detected in either lung.",
        "No pulmonary nodule is seen.",
        "No mass or nodular lesion was detected in both lungs.",
    ],
    "Lung opacity": ["No ground-glass opacity.", "There is no ground-glass opacity in the lungs."],
    "Pulmonary fibrotic sequela": [
        "No fibrotic changes.",
        "No parenchymal bands or fibrotic sequelae.",
    ],
    "Pleural effusion": [
        "No pleural effusion.",
        "No pleural effusion was detected.",
        "Pleural effusion was not observed.",
    ],
    "Mosaic attenuation pattern": [
        "No mosaic attenuation.",
        "There is no mosaic attenuation pattern.",
    ],
    "Peribronchial thickening": [
        "No peribronchial thickening.",
        "Bronchial walls are not thickened.",
    ],
    "Consolidation": [
        "No consolidation.",
        "No consolidation is seen in either lung.",
        "No infiltrative consolidation was detected in both lungs.",
    ],
    "Bronchiectasis": ["No bronchiectasis.", "There is no bronchiectasis."],
    "Interlobular septal thickening": [
        "No interlobular septal thickening.",
        "No septal thickening.",
    ],
}

IMPRESSION: dict[str, list[str]] = {
    "Medical material": ["Postoperative or device-related metallic material ({kind})."],
    "Arterial wall calcification": [
        "Atherosclerotic calcification of the aorta.",
        "Aortic atherosclerosis with wall calcification.",
    ],
    "Cardiomegaly": ["Cardiomegaly.", "Enlarged heart."],
    "Pericardial effusion": ["Pericardial effusion.", "Pericardial fluid."],
    "Coronary artery wall calcification": [
        "Coronary artery calcification.",
        "Calcified coronary atherosclerosis.",
    ],
    "Hiatal hernia": ["Hiatal hernia.", "Hiatus hernia."],
    "Lymphadenopathy": ["Mediastinal/hilar lymphadenopathy.", "Enlarged lymph nodes."],
    "Emphysema": ["Emphysema.", "Emphysematous lung changes."],
    "Atelectasis": ["Atelectasis.", "Atelectatic changes."],
    "Lung nodule": [
        "Pulmonary nodule; follow-up according to guidelines is recommended.",
        "Lung nodule.",
    ],
    "Lung opacity": ["Ground-glass opacities.", "Ground glass densities in the lungs."],
    "Pulmonary fibrotic sequela": ["Fibrotic sequelae.", "Parenchymal fibrotic bands."],
    "Pleural effusion": ["Pleural effusion.", "Pleural fluid."],
    "Mosaic attenuation pattern": [
        "Mosaic attenuation pattern.",
        "Mosaic attenuation, possibly small airway disease.",
    ],
    "Peribronchial thickening": ["Peribronchial thickening.", "Bronchial wall thickening."],
    "Consolidation": ["Consolidation, which may represent pneumonia.", "Airspace consolidation."],
    "Bronchiectasis": ["Bronchiectasis.", "Bronchiectatic changes."],
    "Interlobular septal thickening": ["Interlobular septal thickening.", "Septal thickening."],
}

SECTIONS: list[tuple[list[str], list[str]]] = [
    (
        [],
        [
            "Trachea and both main bronchi are patent.",
            "Trachea and main bronchi are in normal width and their lumens are open.",
            "The central airways are patent.",
        ],
    ),
    (
        ["Lymphadenopathy", "Medical material"],
        [
            "Mediastinal main vascular structures are of normal width.",
            "Mediastinal structures are evaluated.",
        ],
    ),
    (
        [
            "Cardiomegaly",
            "Pericardial effusion",
            "Arterial wall calcification",
            "Coronary artery wall calcification",
        ],
        ["Thoracic aorta diameter is normal.", "The thoracic aorta has a normal caliber."],
    ),
    (
        [
            "Emphysema",
            "Mosaic attenuation pattern",
            "Bronchiectasis",
            "Peribronchial thickening",
            "Interlobular septal thickening",
            "Pulmonary fibrotic sequela",
            "Lung opacity",
            "Consolidation",
            "Atelectasis",
            "Lung nodule",
        ],
        [
            "When examined in the lung parenchyma window:",
            "Lung parenchyma:",
            "Evaluation of the lungs:",
        ],
    ),
    (["Pleural effusion"], []),
    (
        ["Hiatal hernia"],
        [
            "Upper abdominal organs included in the sections are unremarkable.",
            "The imaged upper abdominal organs show no obvious pathology.",
        ],
    ),
    (
        [],
        [
            "Bone structures in the study area are natural.",
            "Degenerative changes are seen in the thoracic spine.",
            "No lytic or destructive bone lesion is seen.",
        ],
    ),
]


def write_report(
    labels: np.ndarray,
    findings: dict[str, Attrs],
    rng: np.random.Generator,
    p_negate: float = 0.6,
    known: np.ndarray | None = None,
) -> Report:
    """Findings and Impression for ``labels`` (18 ints) with the painted ``findings`` attrs.

    Labels that are not ``known`` (real backgrounds) are neither claimed nor negated."""
    sentences: list[str] = []
    positive = [name for name in PATHOLOGIES if labels[PATHOLOGY_INDEX[name]]]
    for names, normal in SECTIONS:
        if normal:
            sentences.append(_pick(rng, normal))
        for name in names:
            if name in positive:
                sentences.append(POSITIVE[name](findings.get(name, {}), rng))
            elif (
                name in NEGATIVE
                and rng.random() < p_negate
                and (known is None or known[PATHOLOGY_INDEX[name]])
            ):
                sentences.append(_pick(rng, NEGATIVE[name]))
    if positive:
        items = []
        for name in positive:
            text = _pick(rng, IMPRESSION[name])
            if "{kind}" in text:
                text = text.format(kind=findings.get(name, {}).get("kind", "device"))
            items.append(text)
        impression = " ".join(f"{i + 1}. {t}" for i, t in enumerate(items))
    else:
        impression = _pick(
            rng,
            [
                "No significant abnormality in the thorax.",
                "Unremarkable chest CT.",
                "Normal CT examination of the chest.",
            ],
        )
    return Report(" ".join(sentences), impression)
