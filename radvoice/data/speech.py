"""Spoken reports and queries for a corpus: many voices, a speaker/engine split, augmentation.

``synthesize_corpus_audio(items, out_dir, split_plan, seed, workers)`` writes
``out_dir/wavs/<split>/<utterance>.wav`` (16 kHz PCM16) and ``out_dir/speech_manifest.jsonl``
(one JSON row per utterance, see :data:`MANIFEST_FIELDS`; ``Voice.from_dict(row)`` rebuilds the
voice with its prosody), plus ``speech_config.json`` (seed,
split plan, settings). It is resumable: utterances already in the manifest with their WAV on
disk are kept, and a second run with other settings into the same folder is refused.

Each item's text split (train/val/test) picks the speech splits that read it: train texts are
spoken once by a training voice, val texts by a val voice, and test texts once per test split
(``test_seen``, ``test_unseen_speaker``, ``test_unseen_engine``), so the three test conditions
compare the same sentences. A report longer than ``max_seconds`` (30 s, Whisper's window) is
spoken in parts ``<id>.p0``, ``<id>.p1``... split at sentences, each row carrying its own text.
Every choice (voice, rate, pitch, pauses, augmentation) derives from
``(seed, utterance id)`` alone, so results do not depend on worker count or order.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.data.augment import AugmentPolicy, apply_augmentation, sample_augmentation
from radvoice.data.speech_splits import TEXT_SPLIT_OF, SplitPlan, make_split_plan
from radvoice.data.voices import ENGINES, Voice, identity, parse_engines, voice_catalog
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MANIFEST_NAME = "speech_manifest.jsonl"
CONFIG_NAME = "speech_config.json"
FAILURES_NAME = "speech_failures.jsonl"
KINDS = ("report", "query")
TEXT_SPLITS = ("train", "val", "test")
MANIFEST_FIELDS = (
    "id",
    "item_id",
    "kind",
    "text",
    "spoken_text",
    "truncated",
    "part",
    "parts",
    "text_split",
    "split",
    "engine",
    "voice",
    "variant",
    "speaker",
    "rate",
    "pitch",
    "duration",
    "path",
    "augmentation",
)
RATE_RANGE = (0.85, 1.2)
PITCH_RANGE = (-3.0, 3.0)
PAUSE_RANGE = (0.15, 0.45)
CHARS_PER_SECOND = 11.0
"""Conservative speech rate for planning report parts: the engines here speak 13-17 characters
per second at rate 1.0; pauses and slow-down augmentation eat the rest."""


class SpeechCorpusError(RadVoiceError):
    """The speech corpus cannot be made (bad items, folder made with other settings, ...)."""


@dataclass(frozen=True)
class SpeechItem:
    """A text to speak.

    ``text_split`` None: derived from a hash of ``group`` (default: ``id``), 80/10/10 train/val/
    test; give a case's report and its queries the same ``group`` (the case id) so that they
    land in the same split.
    """

    id: str
    text: str
    kind: str = "report"
    text_split: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class SpeechJob:
    """One utterance to synthesize (fully determined: picklable, replayable)."""

    utt_id: str
    item: SpeechItem
    text_split: str
    split: str
    voice: Voice
    augmentation: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0
    text: str = ""
    """What this utterance says: the item's text, or one part of a long report."""
    part: int = 0
    parts: int = 1
    babble_voices: tuple[str, ...] = ()
    """Speakers of the babble bank (training voices of the fast engines) for babble noise."""

    @property
    def relpath(self) -> str:
        return f"wavs/{self.split}/{_safe(self.utt_id)}.wav"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _stable_seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def text_split_of(item_id: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Deterministic train/val/test assignment from the id alone."""
    u = (_stable_seed("text-split", item_id) % 1_000_000) / 1_000_000
    if u < fractions[0]:
        return "train"
    return "val" if u < fractions[0] + fractions[1] else "test"


def as_items(items: Iterable[SpeechItem | Sequence[Any]]) -> list[SpeechItem]:
    """Accept SpeechItems or tuples ``(id, text, kind[, text_split])``; validate."""
    out: list[SpeechItem] = []
    seen: set[str] = set()
    for it in items:
        item = it if isinstance(it, SpeechItem) else SpeechItem(*it)
        if item.kind not in KINDS:
            raise SpeechCorpusError(
                f"item {item.id}: kind must be report or query, not {item.kind!r}"
            )
        if item.text_split is not None and item.text_split not in TEXT_SPLITS:
            raise SpeechCorpusError(f"item {item.id}: text split must be one of {TEXT_SPLITS}")
        if not str(item.text).strip():
            raise SpeechCorpusError(f"item {item.id}: empty text")
        if item.id in seen:
            raise SpeechCorpusError(f"duplicate item id {item.id!r}")
        seen.add(item.id)
        out.append(item)
    return out


def plan_for_engines(spec: str | None = "all", seed: int = 0) -> SplitPlan:
    """The split plan for ``--voices SPEC`` (``all``, or engines like ``espeak-ng,flite,piper``):
    piper and festival are held out as unseen engines when at least one other engine is used."""
    engines = parse_engines(spec)
    catalog = voice_catalog(engines)
    present = {v.engine for v in catalog}
    if not present:
        raise SpeechCorpusError(f"no TTS voices available for --voices {spec!r}")
    held = tuple(e for e in ("piper", "festival") if e in present)
    if not present - set(held):
        held = ()
    return make_split_plan(catalog, seed=seed, held_out_engines=held)


def pick_voice(voices: Sequence[Voice], rng: np.random.Generator) -> Voice:
    """Engine first, then identity, then speaker (accent), each uniform: flite's few voices
    are heard as often as espeak-ng's many accent x variant combinations."""
    engines = sorted({v.engine for v in voices})
    engine = engines[int(rng.integers(len(engines)))]
    ids = sorted({identity(v) for v in voices if v.engine == engine})
    ident = ids[int(rng.integers(len(ids)))]
    pool = [v for v in voices if v.engine == engine and identity(v) == ident]
    return pool[int(rng.integers(len(pool)))]


def chunk_report(text: str, max_chars: int | None) -> list[str]:
    """Consecutive sentences grouped into parts of at most ``max_chars`` characters (a longer
    single sentence is a part of its own); one part when ``max_chars`` is None."""
    from radvoice.data.tts import split_sentences

    sentences = split_sentences(text) or [text.strip()]
    if max_chars is None:
        return [" ".join(sentences)]
    parts: list[list[str]] = [[]]
    for sentence in sentences:
        if parts[-1] and len(" ".join([*parts[-1], sentence])) > max_chars:
            parts.append([])
        parts[-1].append(sentence)
    return [" ".join(p) for p in parts]


BABBLE_TEXTS = (
    "The patient was scanned this morning and the images are ready.",
    "Can you send the prior study from last year to my workstation?",
    "We are still waiting for the lab results from the ward.",
    "Please call the referring physician after the meeting.",
    "The next case is a follow up chest examination.",
    "I think the contrast timing was a little late on this one.",
)


def _is_babble(step: dict[str, Any]) -> bool:
    return step.get("op") == "noise" and step.get("kind") == "babble"


def babble_speakers(plan: SplitPlan, seed: int, n: int = 6) -> tuple[str, ...]:
    """Training speakers of espeak-ng/flite (deterministic, fast) whose talk makes babble:
    no val or test voice is ever heard in training audio, not even as background."""
    pool = sorted(v.speaker for v in plan.voices("train") if v.engine in ("espeak-ng", "flite"))
    if not pool:
        return ()
    rng = np.random.default_rng(_stable_seed(seed, "babble"))
    return tuple(pool[int(i)] for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False))


@functools.cache
def babble_bank(speakers: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Background talk (cached per process): each speaker says one of :data:`BABBLE_TEXTS`."""
    from radvoice.data.tts import synthesize

    return tuple(
        synthesize(BABBLE_TEXTS[i % len(BABBLE_TEXTS)], Voice.from_speaker(s))
        for i, s in enumerate(speakers)
    )


def plan_jobs(
    items: Sequence[SpeechItem],
    plan: SplitPlan,
    seed: int,
    augment_policy: AugmentPolicy | None = None,
    augment_splits: Sequence[str] = ("train",),
    max_seconds: float | None = None,
) -> list[SpeechJob]:
    """The utterances to make: speech split, voice, prosody and augmentation per utterance.

    With ``max_seconds``, a report longer than about that much speech (at
    :data:`CHARS_PER_SECOND` times the voice's rate) is split at sentence boundaries into parts
    ``<id>.p0``, ``<id>.p1``, ... spoken by the same voice, so the whole report is heard and
    each part's text matches its audio.
    """
    active = plan.active_splits()
    bank = babble_speakers(plan, seed)
    jobs: list[SpeechJob] = []
    for item in items:
        tsplit = item.text_split or text_split_of(item.group or item.id)
        for split in (s for s in active if TEXT_SPLIT_OF[s] == tsplit):
            base_id = item.id if tsplit != "test" else f"{item.id}.{split}"
            rng = np.random.default_rng(_stable_seed(seed, "utt", base_id))
            voice = pick_voice(plan.voices(split), rng).with_prosody(
                rate=round(float(rng.uniform(*RATE_RANGE)), 3),
                pitch=round(float(rng.uniform(*PITCH_RANGE)), 2),
            )
            max_chars = None
            if max_seconds is not None and item.kind == "report":
                max_chars = int(max_seconds * CHARS_PER_SECOND * voice.rate)
            texts = chunk_report(item.text, max_chars) if item.kind == "report" else [item.text]
            for k, text in enumerate(texts):
                utt_id = base_id if len(texts) == 1 else f"{base_id}.p{k}"
                prng = rng if k == 0 else np.random.default_rng(_stable_seed(seed, "utt", utt_id))
                aug_seed = int(prng.integers(2**31))
                steps = (
                    sample_augmentation(aug_seed, augment_policy) if split in augment_splits else []
                )
                jobs.append(
                    SpeechJob(
                        utt_id,
                        item,
                        tsplit,
                        split,
                        voice,
                        steps,
                        int(prng.integers(2**31)),
                        text=text.strip(),
                        part=k,
                        parts=len(texts),
                        babble_voices=bank if any(_is_babble(st) for st in steps) else (),
                    )
                )
    return jobs


def speak(
    text: str, kind: str, voice: Voice, seed: int, max_seconds: float | None
) -> tuple[np.ndarray, str, bool]:
    """Audio of one text: reports sentence by sentence joined by short pauses (bounded engine
    calls), stopping before ``max_seconds``. Returns (audio, text actually spoken, truncated)."""
    from radvoice.data.tts import split_sentences, synthesize

    rng = np.random.default_rng(seed)
    sentences = split_sentences(text) if kind == "report" else [text.strip()]
    sentences = sentences or [text.strip()]
    parts: list[np.ndarray] = []
    spoken: list[str] = []
    total = 0
    limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
    for sentence in sentences:
        audio = synthesize(sentence, voice)
        pause = (
            np.zeros(int(rng.uniform(*PAUSE_RANGE) * SAMPLE_RATE), np.float32) if parts else None
        )
        extra = audio.size + (pause.size if pause is not None else 0)
        if limit is not None and total + extra > limit:
            if not parts:  # a single sentence longer than the cap: cut it
                return audio[:limit], sentence, True
            return np.concatenate(parts), " ".join(spoken), True
        if pause is not None:
            parts.append(pause)
        parts.append(audio)
        spoken.append(sentence)
        total += extra
    return np.concatenate(parts), " ".join(spoken), False


def run_job(job: SpeechJob, out_dir: str, max_seconds: float | None) -> dict[str, Any]:
    """Synthesize, augment and write one utterance; its manifest row."""
    import soundfile as sf

    text = job.text or job.item.text
    cap = max_seconds
    for step in job.augmentation:  # a slower speed step lengthens the audio after the cap
        if cap is not None and step["op"] == "speed":
            cap *= min(1.0, float(step["factor"]))
    audio, spoken, truncated = speak(text, job.item.kind, job.voice, job.seed, cap)
    if job.augmentation:
        sources = list(babble_bank(job.babble_voices)) if job.babble_voices else None
        audio = apply_augmentation(audio, job.augmentation, sources)
    path = Path(out_dir) / job.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.wav")
    sf.write(str(tmp), np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, path)
    return {
        "id": job.utt_id,
        "item_id": job.item.id,
        "kind": job.item.kind,
        "text": text,
        "spoken_text": spoken,
        "truncated": truncated,
        "part": job.part,
        "parts": job.parts,
        "text_split": job.text_split,
        "split": job.split,
        "engine": job.voice.engine,
        "voice": job.voice.voice,
        "variant": job.voice.variant,
        "speaker": job.voice.speaker,
        "rate": job.voice.rate,
        "pitch": job.voice.pitch,
        "duration": round(audio.size / SAMPLE_RATE, 3),
        "path": job.relpath,
        "augmentation": job.augmentation,
    }


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run_safe(
    args: tuple[SpeechJob, str, float | None],
) -> tuple[SpeechJob, dict | None, str | None]:
    job, out_dir, max_seconds = args
    try:
        return job, run_job(job, out_dir, max_seconds), None
    except RadVoiceError as err:
        return job, None, str(err)
    except (OSError, ValueError, RuntimeError) as err:
        return job, None, f"{type(err).__name__}: {err}"


def rows_by_item(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Manifest rows grouped by the item they speak (a test text has one row per test split)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["item_id"], []).append(row)
    return out


def read_speech_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a speech manifest (a folder or the JSONL file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    rows: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SpeechCorpusError(f"cannot read speech manifest {path}: {err.strerror}") from err
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if n == len(lines):  # a run killed mid-write leaves a partial last line
                log.warning("ignoring a partial last line in %s", path.name)
                break
            raise SpeechCorpusError(f"{path.name} line {n} is not JSON") from err
    return rows


def write_speech_manifest(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def _check_config(out_dir: Path, config: dict[str, Any]) -> None:
    path = out_dir / CONFIG_NAME
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise SpeechCorpusError(f"{path} is not JSON") from err
        if old != config:
            raise SpeechCorpusError(
                f"{out_dir} holds speech made with other settings (seed, voices or options); "
                "use a new folder"
            )
    else:
        path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def synthesize_corpus_audio(
    items: Iterable[SpeechItem | Sequence[Any]],
    out_dir: str | Path,
    split_plan: SplitPlan | None = None,
    seed: int = 0,
    workers: int = 1,
    max_seconds: float | None = 30.0,
    augment_policy: AugmentPolicy | None = None,
    augment_splits: Sequence[str] = ("train",),
    progress: Callable[[int, int], None] | None = None,
    split_long: bool = True,
) -> list[dict[str, Any]]:
    """Speak ``items`` into ``out_dir``; the manifest rows of every utterance, sorted by id.

    ``split_plan`` defaults to :func:`plan_for_engines` ("all"). Reports longer than
    ``max_seconds`` are spoken in parts (``split_long``, see :func:`plan_jobs`) or, with
    ``split_long=False``, cut after the last sentence that fits (``truncated`` in the row). ``workers`` > 1 uses a process
    pool (engines run as subprocesses, piper in-process single-threaded). Failed utterances are
    logged to ``speech_failures.jsonl`` and left out; SpeechCorpusError if none succeeds.
    """
    items = as_items(items)
    plan = split_plan if split_plan is not None else plan_for_engines("all", seed)
    plan.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "seed": seed,
        "max_seconds": max_seconds,
        "split_long": split_long,
        "augment_splits": list(augment_splits),
        "augment_policy": asdict(augment_policy or AugmentPolicy()),
        "split_plan": plan.to_dict(),
        "sample_rate": SAMPLE_RATE,
    }
    config = json.loads(json.dumps(config))  # tuples -> lists, as read back
    _check_config(out, config)
    plan.save(out / "speech_splits.json")
    manifest = out / MANIFEST_NAME
    done: dict[str, dict[str, Any]] = {}
    if manifest.exists():
        for row in read_speech_manifest(manifest):
            if (out / row["path"]).exists():
                done[row["id"]] = row
        write_speech_manifest(done.values(), manifest)  # drop a partial line before appending
    jobs = plan_jobs(
        items, plan, seed, augment_policy, augment_splits, max_seconds if split_long else None
    )
    todo = [j for j in jobs if j.utt_id not in done]
    total, count = len(jobs), len(jobs) - len(todo)
    if progress is not None:
        progress(count, total)
    failures: list[dict[str, Any]] = []
    args = [(j, str(out), max_seconds) for j in todo]
    with open(manifest, "a", encoding="utf-8") as sink:
        if workers > 1 and len(todo) > 1:
            # fork (as torch DataLoader workers do): works from scripts, stdin and notebooks
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            with ctx.Pool(workers, initializer=_worker_init) as pool:
                results: Iterable = pool.imap_unordered(_run_safe, args, chunksize=4)
                count = _collect(results, sink, done, failures, count, total, progress)
        else:
            count = _collect(map(_run_safe, args), sink, done, failures, count, total, progress)
    if failures:
        write_speech_manifest(failures, out / FAILURES_NAME)
        log.warning("%d of %d utterances failed; see %s", len(failures), total, FAILURES_NAME)
        if not done:
            raise SpeechCorpusError(f"no utterance could be synthesized: {failures[0]['error']}")
    wanted = {j.utt_id for j in jobs}
    rows = sorted((r for k, r in done.items() if k in wanted), key=lambda r: r["id"])
    extra = sorted((r for k, r in done.items() if k not in wanted), key=lambda r: r["id"])
    write_speech_manifest(rows + extra, manifest)
    return rows


def _collect(results, sink, done, failures, count, total, progress) -> int:
    for job, row, error in results:
        count += 1
        if row is not None:
            done[row["id"]] = row
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
        else:
            failures.append({"id": job.utt_id, "speaker": job.voice.speaker, "error": error})
        if progress is not None:
            progress(count, total)
    return count


def summarize_speech(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Utterances, hours and speakers per split and per engine (for CLI summaries and notes)."""
    by_split: dict[str, dict[str, Any]] = {}
    by_engine: dict[str, int] = {e: 0 for e in ENGINES}
    for r in rows:
        s = by_split.setdefault(r["split"], {"utterances": 0, "seconds": 0.0, "speakers": set()})
        s["utterances"] += 1
        s["seconds"] += float(r["duration"])
        s["speakers"].add(r["speaker"])
        by_engine[r["engine"]] = by_engine.get(r["engine"], 0) + 1
    return {
        "splits": {
            k: {
                "utterances": v["utterances"],
                "hours": round(v["seconds"] / 3600, 3),
                "speakers": len(v["speakers"]),
            }
            for k, v in sorted(by_split.items())
        },
        "engines": {k: v for k, v in by_engine.items() if v},
    }
