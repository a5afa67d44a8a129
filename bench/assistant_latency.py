"""Key release → answer through the app's assistant engine vs the bare streaming student.

Both use the same student (the shipped ``models/student`` when present, else a random head of
the default size on ``models/whisper-tiny.en``: the same compute) and the same utterance.
The engine adds its worker hop, intent classification and state updates; the ratio printed is
engine / bare, measured in one run. Run: ``.venv/bin/python bench/assistant_latency.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def utterance(seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(0)
    audio = 0.2 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (audio + rng.normal(0, 0.01, t.size)).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=9.9)  # 1.9 s tail: a long last window
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from test_assistant_support import FakeModels

    from radvoice.assistant import Assistant
    from radvoice.components.state import FindingsState, PriorsState, TalkState
    from radvoice.nn.registry import models_dir
    from radvoice.nn.speech_student import SpeechStudent

    shipped = models_dir() / "student"
    tmp = Path(tempfile.mkdtemp())
    if shipped.is_dir():
        student_dir = shipped
    else:
        SpeechStudent.from_whisper(models_dir() / "whisper-tiny.en").save(tmp / "student")
        student_dir = tmp / "student"
    torch.set_num_threads(1)
    audio = utterance(args.seconds)
    block = 320 * 5  # 100 ms pieces, as the recorder delivers them

    bare = SpeechStudent.load(student_dir).stream()
    bare_ms = []
    for _ in range(args.repeats):
        bare.reset()
        starts = list(range(0, audio.size, block))
        for s in starts[:-1]:
            bare.push(audio[s : s + block])
        t0 = time.perf_counter()  # the last piece arrives with the key release
        bare.push(audio[starts[-1] :])
        bare.finish()
        bare_ms.append(1000 * (time.perf_counter() - t0))

    models = FakeModels(student_dir=student_dir)  # only its match_query is used after the student
    engine = Assistant(FindingsState(), PriorsState(), TalkState(), models)
    engine_ms = []
    for r in range(args.repeats):
        starts = list(range(0, audio.size, block))
        for s in starts[:-1]:
            engine.push_chunk(r, audio[s : s + block], s)
        engine.wait_idle(120)  # the user is still talking: chunks are done by release
        t0 = time.perf_counter()
        engine.push_chunk(r, audio[starts[-1] :], starts[-1])
        engine.finish_utterance(r, audio)
        engine.wait_idle(120)
        engine_ms.append(1000 * (time.perf_counter() - t0))
    engine.shutdown()
    b, e = statistics.median(bare_ms), statistics.median(engine_ms)
    print(f"student: {student_dir}  utterance {args.seconds:.1f} s, torch threads 1")
    print(f"bare StreamingSession.finish   median {b:7.1f} ms  (min {min(bare_ms):.1f})")
    print(f"assistant release → answer     median {e:7.1f} ms  (min {min(engine_ms):.1f})")
    print(f"ratio assistant / bare          {e / b:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
