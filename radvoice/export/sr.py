"""Findings as a DICOM Comprehensive 3D SR with a TID 1500 measurement report (highdicom)."""

from __future__ import annotations

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from radvoice.export.findings import FindingsReport
from radvoice.labels import PATHOLOGIES

PRIVATE_SCHEME = "99RADVOICE"
# standard concepts only where they say exactly the CT-RATE label; the rest are private codes
_STANDARD = {
    "Pleural effusion": codes.SCT.PleuralEffusion,
    "Pericardial effusion": codes.SCT.PericardialEffusion,
    "Lymphadenopathy": codes.SCT.Lymphadenopathy,
}
# not DCM 121071 "Finding": that name clashes with the group's finding and reads back empty
CALL_CONCEPT = hd.sr.CodedConcept("RV-CALL", PRIVATE_SCHEME, "Present at operating threshold")
THRESHOLD_CONCEPT = hd.sr.CodedConcept("RV-THR", PRIVATE_SCHEME, "Operating threshold")


def finding_code(label: str) -> hd.sr.CodedConcept:
    """The coded finding of one CT-RATE pathology."""
    std = _STANDARD.get(label)
    if std is not None:
        return hd.sr.CodedConcept(std.value, std.scheme_designator, std.meaning)
    value = "RV-" + "".join(w[0] for w in label.upper().split()) + f"{PATHOLOGIES.index(label):02d}"
    return hd.sr.CodedConcept(value, PRIVATE_SCHEME, label)


def _group(report: FindingsReport, label: str, algorithm: hd.sr.AlgorithmIdentification):
    unit = codes.UCUM.NoUnits
    present = report.present(label)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=label),
        finding_type=finding_code(label),
        algorithm_id=algorithm,
        measurements=[
            hd.sr.Measurement(
                name=codes.DCM.Probability, value=report.probabilities[label], unit=unit,
                algorithm_id=algorithm,
            ),
            hd.sr.Measurement(name=THRESHOLD_CONCEPT, value=report.thresholds[label], unit=unit),
        ],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(
                name=CALL_CONCEPT, value=codes.SCT.Present if present else codes.SCT.Absent
            )
        ],
    )


def build_findings_sr(
    sources: list[Dataset],
    report: FindingsReport,
    series_number: int = 901,
    instance_number: int = 1,
) -> hd.sr.Comprehensive3DSR:
    """One measurement group per pathology (coded finding, probability, threshold, present or
    absent), the algorithm's name and version, the source series in the image library and the
    evidence; flagged preliminary and unverified."""
    algorithm = hd.sr.AlgorithmIdentification(
        name=report.algorithm_name, version=report.algorithm_version
    )
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name=report.algorithm_name, manufacturer_name="RadVoice"
        ),
    )
    measurement_report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=codes.LN.CTChestReport,
        imaging_measurements=[_group(report, k, algorithm) for k in PATHOLOGIES],
        referenced_images=sources,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=sources,
        content=measurement_report,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer="RadVoice",
        series_description="RadVoice AI findings (preliminary)",
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    scheme = Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_SCHEME
    scheme.CodingSchemeName = "RadVoice private codes (CT-RATE findings)"
    scheme.CodingSchemeResponsibleOrganization = "RadVoice"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr
