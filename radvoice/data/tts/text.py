"""Report text -> what a radiologist would say: units spelled out, hard words respelled."""

from __future__ import annotations

import re

# Respellings for words the rule-based engines mispronounce badly (checked with espeak-ng -x).
RESPELLINGS: dict[str, str] = {
    "atelectasis": "atta lecta sis",
    "atelectatic": "atta lectatic",
    "bronchiectasis": "bronky ecta sis",
    "bronchiectatic": "bronky ectatic",
    "emphysema": "emfa seema",
    "emphysematous": "emfa semmatous",
    "hilar": "high lar",
    "sequela": "seck wella",
    "sequelae": "seck wellee",
}
UNITS: dict[str, str] = {
    "mm": "millimeters",
    "cm": "centimeters",
    "ml": "milliliters",
    "mL": "milliliters",
    "HU": "Hounsfield units",
    "%": "percent",
}
ABBREVIATIONS: dict[str, str] = {
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "vs.": "versus",
    "CT": "C T",
}

_NUM = r"\d+(?:\.\d+)?"
_DIMS = re.compile(rf"({_NUM})\s*[x×*]\s*(?=\d)")
_UNIT = re.compile(rf"({_NUM})\s*(mm|cm|mL|ml|HU|%)(?![A-Za-z])")
_WORD = re.compile(r"[A-Za-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def normalize_for_speech(text: str) -> str:
    """Text as it should be spoken: ``3 x 2 cm`` -> ``3 by 2 centimeters``, respellings."""
    out = " ".join(str(text).split())
    for abbr, full in ABBREVIATIONS.items():
        out = re.sub(rf"(?<![A-Za-z]){re.escape(abbr)}(?![A-Za-z])", full, out)
    out = _DIMS.sub(r"\1 by ", out)
    out = _UNIT.sub(lambda m: f"{m.group(1)} {UNITS[m.group(2)]}", out)
    out = out.replace("/", " or ").replace(";", ",")

    def respell(m: re.Match[str]) -> str:
        word = m.group(0)
        repl = RESPELLINGS.get(word.lower())
        if repl is None:
            return word
        return repl.capitalize() if word[0].isupper() else repl

    return _WORD.sub(respell, out)


def split_sentences(text: str) -> list[str]:
    """Sentences of a report (keeps decimal numbers like ``3.5`` intact)."""
    text = " ".join(str(text).split())
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
