"""Speaker/engine split plan for the speech corpus, so "unseen voice" results mean something.

Splits:

* ``train`` - training speakers, training texts.
* ``val`` - speakers whose identity is never in train (a few espeak-ng timbres), val texts.
* ``test_seen`` - training speakers reading held-out texts.
* ``test_unseen_speaker`` - identities never in train or val (espeak-ng timbres, flite voices)
  from engines that training does use.
* ``test_unseen_engine`` - every voice of the held-out engines (default piper and festival).

An identity (:func:`radvoice.data.voices.identity`) is assigned as a whole: every espeak-ng accent
of a held-out variant is held out, and a person recorded for a held-out engine (``kal``, ``slt``)
is kept out of training in every other engine too.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radvoice.data.voices import ENGINES, Voice, identity, voice_catalog
from radvoice.errors import RadVoiceError

SPEECH_SPLITS: tuple[str, ...] = (
    "train",
    "val",
    "test_seen",
    "test_unseen_speaker",
    "test_unseen_engine",
)
TEST_SPLITS: tuple[str, ...] = ("test_seen", "test_unseen_speaker", "test_unseen_engine")
TEXT_SPLIT_OF: dict[str, str] = {
    "train": "train",
    "val": "val",
    "test_seen": "test",
    "test_unseen_speaker": "test",
    "test_unseen_engine": "test",
}
"""Which text split each speech split reads (texts are split train/val/test upstream)."""


class SplitPlanError(RadVoiceError):
    """A split plan that is inconsistent or cannot be built from the voices available."""


@dataclass
class SplitPlan:
    """Speakers per speech split (``test_seen`` reuses ``train``'s speakers)."""

    speakers: dict[str, list[str]]
    held_out_engines: list[str] = field(default_factory=list)
    seed: int = 0

    def voices(self, split: str) -> list[Voice]:
        """Voices (default prosody) that speak ``split``."""
        if split not in SPEECH_SPLITS:
            raise SplitPlanError(f"unknown speech split {split!r}")
        key = "train" if split == "test_seen" else split
        return [Voice.from_speaker(s) for s in self.speakers.get(key, [])]

    def active_splits(self) -> list[str]:
        """Splits that have at least one voice."""
        return [s for s in SPEECH_SPLITS if self.voices(s)]

    def check(self) -> None:
        """Raise SplitPlanError unless train shares no speaker, identity or held-out engine
        with val and the unseen test splits."""
        train = self.voices("train")
        if not train:
            raise SplitPlanError("the split plan has no training voices")
        train_ids = {identity(v) for v in train}
        train_engines = {v.engine for v in train}
        bad_engines = train_engines & set(self.held_out_engines)
        if bad_engines:
            raise SplitPlanError(f"held-out engine(s) {sorted(bad_engines)} used in training")
        for split in ("val", "test_unseen_speaker", "test_unseen_engine"):
            shared = train_ids & {identity(v) for v in self.voices(split)}
            if shared:
                raise SplitPlanError(f"{split} shares identities with train: {sorted(shared)}")
        for v in self.voices("test_unseen_engine"):
            if v.engine in train_engines:
                raise SplitPlanError(f"test_unseen_engine voice {v.speaker} has a training engine")

    def counts(self) -> dict[str, int]:
        """Number of speakers per speech split."""
        return {s: len(self.voices(s)) for s in SPEECH_SPLITS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "held_out_engines": list(self.held_out_engines),
            "speakers": {k: list(v) for k, v in self.speakers.items()},
            "identities": {
                k: sorted({identity(Voice.from_speaker(s)) for s in v})
                for k, v in self.speakers.items()
            },
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> SplitPlan:
        plan = SplitPlan(
            speakers={k: list(v) for k, v in d["speakers"].items()},
            held_out_engines=list(d.get("held_out_engines", [])),
            seed=int(d.get("seed", 0)),
        )
        plan.check()
        return plan

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def load(path: str | Path) -> SplitPlan:
        try:
            return SplitPlan.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SplitPlanError(f"cannot read split plan {path}: {err}") from err


def make_split_plan(
    catalog: list[Voice] | None = None,
    seed: int = 0,
    held_out_engines: tuple[str, ...] = ("piper", "festival"),
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
) -> SplitPlan:
    """Assign identities to splits, deterministically from ``seed``.

    Per training engine, identities are shuffled; ``test_fraction`` of them (at least one when
    the engine has three or more) go to ``test_unseen_speaker``, ``val_fraction`` to ``val``,
    the rest to ``train``, always leaving at least two identities (or the only one) in train.
    Identities that also speak in a held-out engine never enter train.
    """
    catalog = voice_catalog() if catalog is None else list(catalog)
    unknown = [e for e in held_out_engines if e not in ENGINES]
    if unknown:
        raise SplitPlanError(f"unknown held-out engine(s) {unknown}")
    held = [v for v in catalog if v.engine in held_out_engines]
    kept = [v for v in catalog if v.engine not in held_out_engines]
    if not kept:
        raise SplitPlanError(
            "no training voices: every available engine is held out "
            f"(available: {sorted({v.engine for v in catalog}) or 'none'})"
        )
    forced = {identity(v) for v in held}
    rng = random.Random(f"speech-split-{seed}")
    speakers: dict[str, list[str]] = {"train": [], "val": [], "test_unseen_speaker": []}
    for engine in ENGINES:
        voices = [v for v in kept if v.engine == engine]
        if not voices:
            continue
        ids = sorted({identity(v) for v in voices})
        free = [i for i in ids if i not in forced]
        rng.shuffle(free)
        n_total = len(ids)
        n_test = max(1 if n_total >= 3 else 0, round(test_fraction * n_total))
        n_test = max(0, n_test - (n_total - len(free)))
        n_val = round(val_fraction * n_total)
        min_train = min(2, len(free))
        n_test = min(n_test, max(0, len(free) - min_train))
        n_val = min(n_val, max(0, len(free) - min_train - n_test))
        test_ids = set(free[:n_test]) | (set(ids) - set(free))
        val_ids = set(free[n_test : n_test + n_val])
        for v in voices:
            i = identity(v)
            split = "test_unseen_speaker" if i in test_ids else "val" if i in val_ids else "train"
            speakers[split].append(v.speaker)
    speakers["test_unseen_engine"] = [v.speaker for v in held]
    speakers = {k: sorted(v) for k, v in speakers.items()}
    plan = SplitPlan(speakers=speakers, held_out_engines=list(held_out_engines), seed=seed)
    plan.check()
    return plan
