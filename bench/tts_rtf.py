"""Real-time factor of each TTS engine on report sentences (synthesis seconds / audio seconds).

Run: ``.venv/bin/python bench/tts_rtf.py [--sentences N]``. Prints one line per engine with the
RTF measured in this run (lower is faster; < 1 is faster than real time), single process.
"""

from __future__ import annotations

import argparse
import time

from radvoice.data.tts import available_engines, synthesize
from radvoice.data.voices import Voice

SENTENCES = [
    "The trachea and both main bronchi are patent.",
    "Heart size is enlarged, with a small pericardial effusion.",
    "There is a 6 mm solid nodule in the superior segment of the right lower lobe.",
    "Bilateral pleural effusion, larger on the left, with adjacent compressive atelectasis.",
    "Centrilobular emphysema is seen predominantly in both upper lobes.",
    "Is there a pleural effusion?",
    "Interlobular septal thickening and peribronchial thickening in the lower lobes.",
    "No mediastinal or hilar lymphadenopathy.",
]
VOICES = {
    "espeak-ng": [Voice("espeak-ng", "en-us", "m3"), Voice("espeak-ng", "en-gb-scotland", "f2")],
    "flite": [Voice("flite", "kal16"), Voice("flite", "slt"), Voice("flite", "awb")],
    "festival": [Voice("festival", "kal_diphone"), Voice("festival", "cmu_us_slt_arctic_hts")],
    "piper": [Voice("piper", "en_US-joe-medium")],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    args = parser.parse_args()
    texts = SENTENCES[: args.sentences]
    for engine in available_engines():
        for voice in VOICES[engine]:
            synthesize("Warm up.", voice)  # loads piper's model once, fills caches
            t0, audio_s = time.perf_counter(), 0.0
            for text in texts:
                audio_s += synthesize(text, voice).size / 16_000
            wall = time.perf_counter() - t0
            print(
                f"{voice.speaker:<36} RTF {wall / audio_s:.3f}  "
                f"({audio_s:.1f} s audio in {wall:.2f} s, {len(texts)} sentences)"
            )


if __name__ == "__main__":
    main()
