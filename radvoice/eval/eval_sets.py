"""The evaluation's inputs: CT case sets, spoken test utterances per condition, cached encodings.

Conditions (columns of the ``radvoice eval`` table):

* ``seen`` — test texts spoken by training voices (``test_seen``);
* ``unseen_speaker`` / ``unseen_engine`` — held-out speakers and held-out TTS engines;
* ``noise_10db`` — the ``test_seen`` audio with pink noise added at 10 dB SNR;
* ``lung2`` — findings inserted into the held-out real chest CT lung2 (never in training),
  with the ``test_seen`` spoken prompts.

CT sets: ``test`` (an evaluation corpus the teacher and student never saw), ``calib`` (the
student corpus's val cases: per-class thresholds) and ``lung2`` (generated here and cached).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES
from radvoice.training.student_data import CorpusUtterance

log = logging.getLogger(__name__)

CONDITIONS: tuple[str, ...] = ("seen", "unseen_speaker", "unseen_engine", "noise_10db", "lung2")
CONDITION_TITLES = {
    "seen": "training voices",
    "unseen_speaker": "held-out speakers",
    "unseen_engine": "held-out engines",
    "noise_10db": "noise 10 dB SNR",
    "lung2": "real anatomy (lung2)",
}
SPLIT_OF = {
    "seen": "test_seen",
    "unseen_speaker": "test_unseen_speaker",
    "unseen_engine": "test_unseen_engine",
    "noise_10db": "test_seen",
    "lung2": "test_seen",
}
NOISE_SNR_DB = 10.0


class EvalDataError(RadVoiceError):
    """Evaluation data that is missing or unusable."""


@dataclass
class CaseSet:
    """CT cases: ids, labels ``(N, 18)``, which labels are known, volume loaders and (corpus
    sets) the report of each case."""

    name: str
    case_ids: list[str]
    labels: np.ndarray
    known: np.ndarray
    loaders: dict = field(default_factory=dict)
    reports: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.case_ids)


def corpus_case_set(root: Path, name: str, only: set[str] | None = None) -> CaseSet:
    """Cases of a corpus folder (all, or the ids in ``only``)."""
    from radvoice.data.corpus import load_case_json, read_manifest
    from radvoice.data.records import report_text
    from radvoice.imaging import read_volume

    rows = [r for r in read_manifest(root) if only is None or r["case_id"] in only]
    if not rows:
        raise EvalDataError(f"{root}: no cases for the {name!r} set")
    known, reports = [], []
    for r in rows:
        doc = load_case_json(root, r)
        k = doc.get("known") or {}
        known.append([bool(k.get(p, True)) for p in PATHOLOGIES])
        rep = doc.get("report") or {}
        reports.append(report_text(rep.get("findings", ""), rep.get("impression", "")))
    return CaseSet(
        name,
        [r["case_id"] for r in rows],
        np.array([r["labels"] for r in rows], dtype=np.int64),
        np.array(known, dtype=bool),
        {r["case_id"]: (lambda p=Path(root) / r["volume"]: read_volume(p)) for r in rows},
        reports if all(reports) else [],
    )


def lung2_case_set(ct_dir: Path, cache: Path, n: int, seed: int = 3) -> CaseSet:
    """``n`` cases with findings inserted into lung2 (cached as NIfTI + labels JSON)."""
    from radvoice.data.synth import generate_case
    from radvoice.imaging import read_volume
    from radvoice.imaging.itk_io import write_volume

    src = Path(ct_dir) / "lung2_image.nrrd"
    if not src.is_file():
        raise EvalDataError(f"held-out real case not found: {src}")
    folder = Path(cache) / f"lung2_s{seed}_aa"  # anti-aliased background (v2)
    folder.mkdir(parents=True, exist_ok=True)
    ids, labels, known, loaders = [], [], [], {}
    for i in range(n):
        meta_path = folder / f"case_{i:03d}.json"
        vol_path = folder / f"case_{i:03d}.nii.gz"
        if not (meta_path.is_file() and vol_path.is_file()):
            case = generate_case(seed, i, real_background=src, allow_heldout_background=True)
            write_volume(case.volume, vol_path)
            meta = {"labels": [int(v) for v in case.labels], "known": [bool(v) for v in case.known]}
            meta_path.write_text(json.dumps(meta))
            log.info(f"lung2 case {i + 1}/{n} generated")
        meta = json.loads(meta_path.read_text())
        cid = f"lung2_s{seed}_{i:03d}"
        ids.append(cid)
        labels.append(meta["labels"])
        known.append(meta["known"])
        loaders[cid] = lambda p=vol_path: read_volume(p)
    return CaseSet("lung2", ids, np.array(labels), np.array(known, dtype=bool), loaders)


def noise_transform(snr_db: float = NOISE_SNR_DB):
    """``(audio, utt_id) → audio`` with pink noise at ``snr_db`` (seeded by the utterance id)."""
    from radvoice.data.augment import add_noise

    def apply(audio: np.ndarray, utt_id: str) -> np.ndarray:
        seed = int(hashlib.sha256(utt_id.encode()).hexdigest()[:8], 16)
        return np.clip(add_noise(audio, snr_db, "pink", seed), -1.0, 1.0)

    return apply


def condition_utterances(utts: list[CorpusUtterance], condition: str) -> list[CorpusUtterance]:
    split = SPLIT_OF[condition]
    return [u for u in utts if u.split == split]


def transcripts(
    utts: list[CorpusUtterance], cache: Path, tag: str, transform=None, size: str = "tiny.en"
) -> dict[str, str]:
    """ASR-cascade transcripts (ctranslate2 Whisper), cached in ``cache/transcripts_<tag>.json``."""
    from radvoice.audio import load_audio
    from radvoice.nn.whisper.cascade import AsrCascade

    path = Path(cache) / f"transcripts_{size}_{tag}.json"
    done: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    todo = [u for u in utts if u.utt_id not in done]
    if todo:
        asr = AsrCascade(size, threads=1)
        for i, u in enumerate(todo):
            audio = load_audio(u.path)
            if transform is not None:
                audio = transform(audio, u.utt_id)
            done[u.utt_id] = asr.transcribe(audio)
            if (i + 1) % 50 == 0 or i + 1 == len(todo):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(done, indent=0))
                log.info(f"transcripts {tag}: {i + 1}/{len(todo)}")
    return done
