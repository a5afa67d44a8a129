"""Reports and spoken queries: checked by keyword rules written independently of the templates."""

from __future__ import annotations

import re

import numpy as np
import pytest

from radvoice.data.cooccurrence import sample_labels
from radvoice.data.queries import ALL_QUERIES, phrasings
from radvoice.data.reports import write_report
from radvoice.data.synth import generate_case
from radvoice.labels import PATHOLOGIES, PATHOLOGY_INDEX

# How a reader would spot each finding in free text (not the generator's templates).
MENTIONS = {
    "Medical material": r"pacemaker|sternotomy|sternal wire|cerclage|\bport\b|catheter|surgical clip|metallic|device|electrode",
    "Arterial wall calcification": r"^(?!.*coronar)(?=.*(calcif|atheroscl|atherom))(?=.*(aort|arteri|vascular))",
    "Cardiomegaly": r"cardiomegal|enlarged heart|heart is enlarged|cardiac enlargement|cardiothoracic ratio|heart size is increased",
    "Pericardial effusion": r"pericardial (effusion|fluid)|pericardial space|fluid around the heart",
    "Coronary artery wall calcification": r"coronar",
    "Hiatal hernia": r"hiat",
    "Lymphadenopathy": r"lymph|adenopath",
    "Emphysema": r"emphysem|bulla|bullous",
    "Atelectasis": r"atelecta|collapse",
    "Lung nodule": r"nodul",
    "Lung opacity": r"ground[- ]glass|opacit|hazy",
    "Pulmonary fibrotic sequela": r"fibro|sequel|scar|parenchymal band",
    "Pleural effusion": r"pleural (effusion|fluid)|pleural space|hydrothorax",
    "Mosaic attenuation pattern": r"mosaic|air trapping",
    "Peribronchial thickening": r"peribronchial|bronchial wall thicken|thickened bronchial wall|bronchial walls are (not )?thickened",
    "Consolidation": r"consolidat|airspace",
    "Bronchiectasis": r"bronchiecta|dilated bronch|bronchial dilat|signet",
    "Interlobular septal thickening": r"interlobular sept|septal (thickening|lines)|kerley",
}
NEGATION = re.compile(
    r"\b(no|not|without|absent|normal|unremarkable|preserved|free of|negative for|nor)\b"
)


def claims(text: str) -> tuple[set[str], set[str]]:
    """(labels stated present, labels stated absent) sentence by sentence."""
    present, absent = set(), set()
    for sentence in re.split(r"(?<=[.:])\s+", text.lower()):
        for label, pattern in MENTIONS.items():
            if re.search(pattern, sentence):
                (absent if NEGATION.search(sentence) else present).add(label)
    return present, absent


@pytest.fixture(scope="module")
def all_findings() -> dict[str, dict]:
    """Painted attributes of every finding (two cases with all 18 forced)."""
    out: dict[str, dict] = {}
    for i in range(2):
        case = generate_case(
            31, i, labels=list(PATHOLOGIES), shape=(40, 96, 96), spacing=(3.7, 3.7, 8.0)
        )
        for k, v in case.findings.items():
            out.setdefault(k, v)
    return out


def test_reports_describe_every_positive_and_claim_no_absent(all_findings: dict[str, dict]) -> None:
    rng = np.random.default_rng(0)
    for trial in range(400):
        labels = sample_labels(rng)
        labels = np.array(
            [v if PATHOLOGIES[i] in all_findings else 0 for i, v in enumerate(labels)]
        )
        report = write_report(labels, all_findings, np.random.default_rng(trial))
        present, _ = claims(report.findings)
        truth = {p for p, v in zip(PATHOLOGIES, labels, strict=True) if v}
        assert present == truth, (truth ^ present, report.findings)
        imp_present, _ = claims(report.impression)
        assert imp_present == truth, (truth ^ imp_present, report.impression)


def test_absent_findings_are_often_negated() -> None:
    labels = np.zeros(len(PATHOLOGIES), int)
    negated = set()
    for s in range(20):
        _, absent = claims(write_report(labels, {}, np.random.default_rng(s)).findings)
        negated |= absent
    assert "Pleural effusion" in negated and "Lung nodule" in negated and len(negated) >= 14


def test_many_phrasings_per_finding(all_findings: dict[str, dict]) -> None:
    for name in PATHOLOGIES:
        labels = np.zeros(len(PATHOLOGIES), int)
        labels[PATHOLOGY_INDEX[name]] = 1
        texts = set()
        for s in range(150):
            rep = write_report(
                labels, {name: all_findings[name]}, np.random.default_rng(s), p_negate=0
            )
            sentences = [
                x
                for x in re.split(r"(?<=\.)\s+", rep.findings)
                if re.search(MENTIONS[name], x.lower())
            ]
            texts.update(sentences)
        assert len(texts) >= (3 if name == "Medical material" else 5), (name, texts)


def test_report_location_and_size_match_the_case() -> None:
    case = generate_case(
        12,
        0,
        labels=["Lung nodule", "Pleural effusion"],
        shape=(40, 96, 96),
        spacing=(3.7, 3.7, 8.0),
    )
    text = case.report.findings
    nod = case.findings["Lung nodule"]["nodules"][0]
    assert f"{nod['size_mm']} mm" in text and nod["lobe"] in text
    side = case.findings["Pleural effusion"]["side"]
    assert side in text or (side == "bilateral" and "both" in text)


def test_normal_case_impression_claims_nothing() -> None:
    case = generate_case(3, 7, labels=[], shape=(24, 64, 64), spacing=(5.6, 5.6, 12.0))
    present, _ = claims(case.report.text)
    assert present == set()


def test_queries_many_phrasings_and_map_to_their_label() -> None:
    for name in PATHOLOGIES:
        assert len(phrasings(name)) >= 8
    for text, label in ALL_QUERIES:
        assert label in PATHOLOGIES
        assert text.strip() and len(text) < 80
    # a query about fluid around the heart is not a pleural question, and vice versa
    heart = [t for t, lab in ALL_QUERIES if "around the heart" in t]
    assert heart and all(lab == "Pericardial effusion" for t, lab in ALL_QUERIES if t in heart)
    texts = [t for t, _ in ALL_QUERIES]
    assert len(texts) == len(set(texts))  # no text maps to two labels


def test_case_queries_have_correct_answers() -> None:
    case = generate_case(5, 1, shape=(24, 64, 64), spacing=(5.6, 5.6, 12.0))
    assert case.queries
    for q in case.queries:
        assert q.answer == int(case.labels[PATHOLOGY_INDEX[q.label]])
        assert q.text in phrasings(q.label)
