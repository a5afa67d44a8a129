"""What the speech student trains and is evaluated on: utterances, cached encoder features, targets.

* :class:`CorpusUtterance` — one spoken item (report, query or zero-shot prompt) with its speech split,
  the text actually spoken (the distillation target), its case and, for queries and prompts, the
  pathology it is about.
* :func:`load_utterances` — from a corpus made by :mod:`radvoice.training.student_corpus`, or from
  a CT-RATE folder with Speech-RATE ``*_findings.wav`` files inside it.
* :class:`FeatureCache` — frozen Whisper-encoder frames of each utterance's chunked windows
  (exactly :meth:`SpeechStudent.encode_chunks`), float16 on disk, so CPU training only runs the
  head. Valid only while the whole encoder is frozen (``train_top_layers == 0``).
* :class:`TeacherTargets` — frozen teacher CT embeddings per case and text embeddings per spoken
  text, cached next to the features.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from radvoice.errors import RadVoiceError
from radvoice.labels import PATHOLOGIES

log = logging.getLogger(__name__)
AudioTransform = Callable[[np.ndarray, str], np.ndarray]


class StudentDataError(RadVoiceError):
    """Student training data that cannot be found or read."""


@dataclass(frozen=True)
class CorpusUtterance:
    """One spoken item of a student corpus (a report part, question or prompt) on disk."""

    utt_id: str
    path: Path
    kind: str  # "report" | "query" | "prompt"
    text: str  # what was actually spoken: the distillation target
    split: str  # speech split: train, val, test_seen, test_unseen_speaker, test_unseen_engine
    case_id: str | None = None
    label: str | None = None  # queries and prompts: the pathology asked about
    polarity: int | None = None  # prompts: 1 "is present", 0 "is not present"
    template: int | None = None
    engine: str = ""
    speaker: str = ""

    @property
    def label_index(self) -> int:
        if self.label is None:
            raise StudentDataError(f"{self.utt_id} is not about a pathology")
        return PATHOLOGIES.index(self.label)


Utterance = CorpusUtterance
"""The old name (:class:`radvoice.audio.Utterance` is a captured recording), kept for imports."""


def corpus_utterances(root: Path) -> list[CorpusUtterance]:
    """Utterances of a student corpus (``root/speech/speech_manifest.jsonl`` + item table)."""
    from radvoice.data.speech import read_speech_manifest
    from radvoice.training.student_corpus import ITEMS_NAME, SPEECH_DIR

    speech = Path(root) / SPEECH_DIR
    items_path = speech / ITEMS_NAME
    if not items_path.is_file():
        raise StudentDataError(f"{root}: no {SPEECH_DIR}/{ITEMS_NAME} (not a student corpus)")
    from radvoice.training.student_corpus import read_items

    items = read_items(items_path)
    out = []
    for row in read_speech_manifest(speech):
        item_id = row["item_id"]
        base = item_id
        if item_id.startswith("prompt_"):  # prompt_NNN_<split>[_rK] → prompt_NNN
            base = re.sub(r"_r\d+$", "", item_id).rsplit("_", 1)[0]
        meta = items.get(base)
        if meta is None:
            continue
        path = speech / row["path"]
        if not path.is_file():
            continue
        out.append(
            CorpusUtterance(
                utt_id=row["id"],
                path=path,
                kind=meta["kind"],
                text=row.get("spoken_text") or row["text"],
                split=row["split"],
                case_id=meta.get("case_id"),
                label=meta.get("label"),
                polarity=meta.get("polarity"),
                template=meta.get("template"),
                engine=row.get("engine", ""),
                speaker=row.get("speaker", ""),
            )
        )
    if not out:
        raise StudentDataError(f"{root}: the speech manifest lists no readable utterance")
    return sorted(out, key=lambda u: u.utt_id)


def ctrate_utterances(root: Path, reports: dict[str, str], splits: dict[str, str]) -> list:
    """Speech-RATE findings WAVs found under ``root`` for the CT-RATE cases in ``reports``."""
    from radvoice.data.speechrate import SpeechRateIndex

    index = SpeechRateIndex(root)
    out = []
    for case_id, text in sorted(reports.items()):
        wav = index.findings(case_id)
        if wav is None:
            continue
        split = {"": "train", "test": "test_seen"}.get(splits.get(case_id, ""), splits[case_id])
        out.append(CorpusUtterance(case_id + "_findings", wav, "report", text, split, case_id))
    if not out:
        raise StudentDataError(f"{root}: no Speech-RATE *_findings.wav for any CT-RATE volume")
    return out


def select(
    utts: Iterable[CorpusUtterance], split: str, kinds: Sequence[str]
) -> list[CorpusUtterance]:
    return [u for u in utts if u.split == split and u.kind in kinds]


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


class FeatureCache:
    """Frozen encoder frames per utterance: ``(frames (T, C) float16, window lengths (W,))``.

    ``key`` names the encoder and chunking (see :func:`encoder_key`); ``folder`` None keeps them
    in memory only. ``transform(audio, utt_id)`` (e.g. added noise) is part of ``tag``.
    """

    def __init__(self, folder: Path | None, key: str, tag: str = "clean") -> None:
        self.folder = Path(folder) / f"feat_{key}_{tag}" if folder else None
        self.memory: dict[str, tuple[Tensor, Tensor]] = {}
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, utt: CorpusUtterance) -> Path | None:
        return self.folder / f"{_digest(utt.utt_id, utt.path)}.pt" if self.folder else None

    def ensure(
        self,
        student,
        utts: Sequence[CorpusUtterance],
        transform: AudioTransform | None = None,
        batch: int = 8,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Encode every utterance not cached yet (in small batches of utterances)."""
        from radvoice.audio import load_audio

        todo = [u for u in utts if not self.has(u)]
        for s in range(0, len(todo), batch):
            group = todo[s : s + batch]
            feats = []
            for u in group:
                audio = load_audio(u.path)
                if transform is not None:
                    audio = transform(audio, u.utt_id)
                feats.append(student.features(audio))
            with torch.inference_mode():
                encoded = student.encode_chunks(feats)
            for u, windows in zip(group, encoded, strict=True):
                frames = torch.cat(windows).to("cpu", torch.float16)
                lengths = torch.tensor([w.shape[0] for w in windows], dtype=torch.long)
                self._store(u, frames, lengths)
            if progress is not None:
                progress(min(s + batch, len(todo)), len(todo))

    def has(self, utt: CorpusUtterance) -> bool:
        p = self._path(utt)
        return utt.utt_id in self.memory or (p is not None and p.is_file())

    def _store(self, utt: CorpusUtterance, frames: Tensor, lengths: Tensor) -> None:
        self.memory[utt.utt_id] = (frames, lengths)
        p = self._path(utt)
        if p is not None:
            tmp = p.with_suffix(".tmp")
            torch.save({"frames": frames, "lengths": lengths}, tmp)
            tmp.replace(p)

    def get(self, utt: CorpusUtterance) -> tuple[Tensor, Tensor]:
        if utt.utt_id not in self.memory:
            p = self._path(utt)
            if p is None or not p.is_file():
                raise StudentDataError(f"no cached features for {utt.utt_id}")
            d = torch.load(p, map_location="cpu", weights_only=True)
            self.memory[utt.utt_id] = (d["frames"], d["lengths"])
        return self.memory[utt.utt_id]

    def chunks(self, utts: Sequence[CorpusUtterance], device: torch.device) -> list[list[Tensor]]:
        """:meth:`SpeechStudent.forward_chunks` input for ``utts``."""
        out = []
        for u in utts:
            frames, lengths = self.get(u)
            frames = frames.to(device, torch.float32)
            out.append(list(torch.split(frames, lengths.tolist())))
        return out


def encoder_key(student) -> str:
    """Identity of the frozen encoder + chunking (not the head): the features' cache key."""
    enc = student.encoder.state_dict()
    h = hashlib.sha256()
    for k in sorted(enc)[:4]:
        h.update(enc[k].detach().float().cpu().numpy().tobytes()[:4096])
    cfg = student.config.to_dict()
    ident = {k: cfg[k] for k in ("encoder", "chunking", "encoder_name")}  # not the head
    h.update(json.dumps(ident, sort_keys=True).encode())
    return h.hexdigest()[:12]


class TeacherTargets:
    """Frozen teacher embeddings: CT per case id, text per spoken text (cached as one file)."""

    def __init__(self, bundle, folder: Path | None, teacher_key: str) -> None:
        self.bundle = bundle
        self.path = Path(folder) / f"targets_{teacher_key}.pt" if folder else None
        self.ct: dict[str, Tensor] = {}
        self.text: dict[str, Tensor] = {}
        if self.path is not None and self.path.is_file():
            d = torch.load(self.path, map_location="cpu", weights_only=True)
            self.ct, self.text = dict(d["ct"]), dict(d["text"])

    def save(self) -> None:
        """Merge into the file on disk under a lock (several processes may fill it at once)."""
        if self.path is None:
            return
        import fcntl
        import os

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.is_file():
                d = torch.load(self.path, map_location="cpu", weights_only=True)
                self.ct = {**d["ct"], **self.ct}
                self.text = {**d["text"], **self.text}
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"ct": self.ct, "text": self.text}, tmp)
            tmp.replace(self.path)

    @torch.inference_mode()
    def ensure_ct(self, loaders: dict[str, Callable[[], object]], log_every: int = 25) -> None:
        """Embed the volumes of case ids not cached yet (``loaders[id]()`` → Volume)."""
        from radvoice.nn.grid import resample_to_grid

        clip = self.bundle.clip
        device = next(clip.ct_encoder.parameters()).device
        todo = [c for c in loaders if c not in self.ct]
        for i, case_id in enumerate(todo):
            grid = resample_to_grid(loaders[case_id](), clip.dims.grid)[None].to(device)
            self.ct[case_id] = clip.encode_ct(grid)[0].float().cpu()
            if (i + 1) % log_every == 0:
                log.info(f"teacher CT embeddings: {i + 1}/{len(todo)}")
                self.save()
        if todo:
            self.save()

    @torch.inference_mode()
    def ensure_text(self, texts: Iterable[str], batch: int = 32) -> None:
        todo = sorted({t for t in texts if t not in self.text})
        for s in range(0, len(todo), batch):
            group = todo[s : s + batch]
            emb = self.bundle.clip.encode_text(group).float().cpu()
            self.text.update(zip(group, emb, strict=True))
        if todo:
            self.save()

    def ct_of(self, case_ids: Sequence[str]) -> Tensor:
        return torch.stack([self.ct[c] for c in case_ids])

    def text_of(self, texts: Sequence[str]) -> Tensor:
        return torch.stack([self.text[t] for t in texts])


def teacher_key(teacher_dir: Path) -> str:
    """The SHA-256 of the teacher weights, shortened (changes when the teacher is retrained)."""
    from radvoice.nn.registry import ModelIntegrityError
    from radvoice.nn.speech_student import teacher_weights_sha256

    digest = teacher_weights_sha256(teacher_dir)
    if digest is None:
        raise ModelIntegrityError(f"no teacher weights in {teacher_dir}")
    return digest[:12]
