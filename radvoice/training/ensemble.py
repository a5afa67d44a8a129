"""``radvoice ensemble``: average separately trained student heads (seeds of one recipe) into one
shipped student, optionally validated on the corpus they were trained on.

The members share the frozen Whisper encoder, so the ensemble costs one encoder pass per window
like a single student; only the small heads run once per member. Its ``training.json`` keeps each
member's provenance and, with ``data``, the ensemble's own validation metrics (``zs_dev`` etc.).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radvoice.errors import RadVoiceError

if TYPE_CHECKING:
    from radvoice.training.student import DevEval


def build_ensemble(
    member_dirs: Sequence[Path],
    out_dir: Path,
    data: str | None = None,
    teacher_dir: Path | None = None,
    dev_eval: DevEval | None = None,
) -> dict[str, Any]:
    """Write the ensemble of ``member_dirs`` to ``out_dir``; return its ``training.json``
    (``dev_eval``: development scores added to the validation, as in training)."""
    from radvoice.nn.registry import models_dir
    from radvoice.nn.speech_student import SpeechStudent, ensemble_students
    from radvoice.training.student import read_training_info, write_training_info

    dirs = [Path(d) for d in member_dirs]
    if len(dirs) < 2:
        raise RadVoiceError("an ensemble needs at least two student folders")
    if len({d.resolve() for d in dirs}) != len(dirs):
        raise RadVoiceError("the same student folder is given twice")
    students = [SpeechStudent.load(d) for d in dirs]
    ens = ensemble_students(students)
    info: dict[str, Any] = {
        "ensemble_of": [{"folder": str(d), "training": read_training_info(d)} for d in dirs],
        "members": ens.config.members,
    }
    if data is not None:
        teacher = Path(teacher_dir) if teacher_dir else models_dir() / "teacher"
        info["val"] = validate_on_corpus(ens, data, teacher, dev_eval)
        info["teacher"] = str(teacher)
    out_dir = Path(out_dir)
    ens.save(out_dir, teacher_sha256=ens.teacher_sha256)
    write_training_info(out_dir, info)
    return info


def validate_on_corpus(
    student, data: str, teacher_dir: Path, dev_eval: DevEval | None = None
) -> dict[str, float]:
    """The student's validation metrics (as at the end of training) on a student corpus."""
    from radvoice.nn.clip import load_teacher
    from radvoice.training.distributed import DistContext
    from radvoice.training.student import load_student_data, prepare_data, validate

    if not Path(teacher_dir).is_dir():
        raise RadVoiceError(f"teacher model not found at {teacher_dir}")
    utts, labels, loaders = load_student_data(data)
    teacher = load_teacher(Path(teacher_dir), with_text=True)
    ctx = DistContext()
    prepared = prepare_data(
        student,
        utts,
        labels,
        loaders,
        teacher,
        Path(teacher_dir),
        Path(data).expanduser() / "cache",
        logging.getLogger("radvoice.ensemble"),
        ctx,
    )
    return validate(student, prepared, ctx.device, dev_eval)
