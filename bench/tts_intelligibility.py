"""How intelligible is the synthetic speech? Whisper (ctranslate2) transcribes TTS output.

Run: ``.venv/bin/python bench/tts_intelligibility.py [--whisper base] [--plain]``. For each
engine voice, speaks medical sentences, transcribes them, and prints the word error rate and
the share of the medical terms recovered, measured in this run. ``--plain`` also speaks the raw
text (no unit expansion or respellings) to show what :func:`normalize_for_speech` buys.
"""

from __future__ import annotations

import argparse
import re

from radvoice.data.tts import available_engines, synthesize
from radvoice.data.voices import Voice

SENTENCES = [
    "Bilateral pleural effusion with compressive atelectasis in both lower lobes.",
    "There is a 6 mm nodule in the right upper lobe.",
    "Centrilobular emphysema in both upper lobes.",
    "Cylindrical bronchiectasis and peribronchial thickening in the left lower lobe.",
    "The heart is enlarged, consistent with cardiomegaly.",
    "No mediastinal or hilar lymphadenopathy.",
    "Interlobular septal thickening and a mosaic attenuation pattern.",
    "Small pericardial effusion and coronary artery wall calcification.",
    "Consolidation in the right middle lobe.",
    "Is there a hiatal hernia?",
]
TERMS = [
    "effusion",
    "atelectasis",
    "nodule",
    "emphysema",
    "bronchiectasis",
    "peribronchial",
    "cardiomegaly",
    "mediastinal",
    "hilar",
    "lymphadenopathy",
    "interlobular",
    "septal",
    "mosaic",
    "attenuation",
    "pericardial",
    "coronary",
    "calcification",
    "consolidation",
    "hiatal",
    "hernia",
]
VOICES = [
    Voice("espeak-ng", "en-us", "m3"),
    Voice("espeak-ng", "en-gb-scotland", "f2"),
    Voice("flite", "kal16"),
    Voice("flite", "slt"),
    Voice("flite", "awb"),
    Voice("festival", "kal_diphone"),
    Voice("festival", "cmu_us_slt_arctic_hts"),
    Voice("piper", "en_US-joe-medium"),
]
NUMBERS = {"6": "six"}


def words(text: str) -> list[str]:
    text = text.lower().replace("millimeters", "mm").replace("millimeter", "mm")
    return [NUMBERS.get(w, w) for w in re.findall(r"[a-z0-9]+", text)]


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edit distance, reference length)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def main() -> None:
    from radvoice.nn.whisper.cascade import AsrCascade

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whisper", default="base", help="Whisper size (tiny.en or base)")
    parser.add_argument("--plain", action="store_true", help="also speak the raw text")
    parser.add_argument("--engines", default=None, help="comma-separated engines (default: all)")
    args = parser.parse_args()
    asr = AsrCascade(size=args.whisper, threads=2)
    engines = available_engines()
    if args.engines:
        engines = [e for e in engines if e in args.engines.split(",")]
    modes = [True, False] if args.plain else [True]
    for voice in (v for v in VOICES if v.engine in engines):
        for normalize in modes:
            errors = total = hits = n_terms = 0
            for text in SENTENCES:
                hyp = words(asr.transcribe(synthesize(text, voice, normalize=normalize)))
                e, n = wer(words(text), hyp)
                errors, total = errors + e, total + n
                terms = [t for t in TERMS if t in words(text)]
                hits += sum(t in hyp for t in terms)
                n_terms += len(terms)
            label = "normalized" if normalize else "plain"
            print(
                f"{voice.speaker:<36} {label:<10} WER {errors / total:6.1%}  "
                f"medical terms recovered {hits}/{n_terms} ({hits / n_terms:.0%})",
                flush=True,
            )


if __name__ == "__main__":
    main()
