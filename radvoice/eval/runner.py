"""Assemble :class:`~radvoice.eval.zeroshot_eval.EvalInputs` from folders (models, corpora)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from radvoice.eval.eval_sets import (
    CONDITIONS,
    EvalDataError,
    corpus_case_set,
    lung2_case_set,
)
from radvoice.eval.zeroshot_eval import EvalInputs

log = logging.getLogger(__name__)
CALIBRATION_CASES = 40
STUDENT_DIRS = {"speech_kd": "student", "speech_nokd": "student_nokd"}


@dataclass
class EvalSettings:
    models: Path
    data: Path  # the student corpus (spoken test utterances, calibration cases)
    eval_data: Path  # a CT corpus never used in training (zero-shot test set)
    cache: Path
    real_ct: Path | None = None  # folder with lung2_image.nrrd
    lung2_cases: int = 96
    cascade: bool = True
    cascade_size: str = "tiny.en"  # the ASR cascade's Whisper
    conditions: tuple[str, ...] = CONDITIONS
    device: str = "cpu"
    teacher: Path | None = None  # default: models/teacher


def calibration_ids(data: Path, utts: list, cap: int = CALIBRATION_CASES) -> set[str]:
    """Threshold-calibration cases: the spoken val cases, then cases never spoken (no student
    saw them), up to ``cap``."""
    from radvoice.data.corpus import read_manifest

    spoken = {u.case_id for u in utts if u.kind == "report"}
    chosen = sorted({u.case_id for u in utts if u.split == "val" and u.kind == "report"})
    rest = [r["case_id"] for r in read_manifest(data) if r["case_id"] not in spoken]
    return set((chosen + rest)[:cap])


def build_inputs(s: EvalSettings) -> EvalInputs:
    from radvoice.nn.clip import load_teacher
    from radvoice.nn.registry import ModelIntegrityError
    from radvoice.nn.speech_student import SpeechStudent, check_distilled_from
    from radvoice.training.student_data import TeacherTargets, corpus_utterances, teacher_key

    teacher_dir = Path(s.teacher) if s.teacher else Path(s.models) / "teacher"
    if not teacher_dir.is_dir():
        raise EvalDataError(f"no teacher model at {teacher_dir}")
    bundle = load_teacher(teacher_dir, with_text=True, device=s.device)
    students = {}
    for key, name in STUDENT_DIRS.items():
        folder = Path(s.models) / name
        if folder.is_dir():
            students[key] = SpeechStudent.load(folder, device=s.device)
            check_distilled_from(students[key], folder, teacher_dir)
        else:
            log.warning(f"{folder} missing: the {key} rows are left out")
    if not Path(s.data).is_dir():
        raise EvalDataError(f"student corpus not found: {s.data}")
    utts = corpus_utterances(Path(s.data))
    test_utts = [u for u in utts if u.split.startswith("test")]
    if not test_utts:
        raise EvalDataError(f"{s.data}: no spoken test utterances")
    test_cases = {u.case_id for u in test_utts if u.kind == "report"}
    if not Path(s.eval_data).is_dir():
        raise EvalDataError(f"evaluation CT corpus not found: {s.eval_data}")
    sets = {
        "test": corpus_case_set(Path(s.eval_data), "test"),
        "calib": corpus_case_set(Path(s.data), "calib", calibration_ids(Path(s.data), utts)),
    }
    conditions = tuple(s.conditions)
    if "lung2" in conditions:
        if s.real_ct is None or not (Path(s.real_ct) / "lung2_image.nrrd").is_file():
            log.warning("lung2_image.nrrd not found: the lung2 column is left out")
            conditions = tuple(c for c in conditions if c != "lung2")
        else:
            sets["lung2"] = lung2_case_set(Path(s.real_ct), Path(s.cache), s.lung2_cases)
    report_cases = corpus_case_set(Path(s.data), "reports", test_cases) if test_cases else None
    if report_cases is not None:
        sets["reports"] = report_cases
    try:
        key = teacher_key(teacher_dir)
    except OSError as err:
        raise ModelIntegrityError(f"cannot read the teacher weights: {err}") from None
    return EvalInputs(
        teacher=bundle,
        students=students,
        utterances=test_utts,
        sets=sets,
        targets=TeacherTargets(bundle, Path(s.cache), key),
        cache=Path(s.cache),
        report_cases=report_cases,
        cascade=s.cascade,
        cascade_size=s.cascade_size,
        conditions=conditions,
    )
