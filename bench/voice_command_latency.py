"""Key release → voice command executed, through the app's assistant engine (CPU, 1 thread).

The shipped student with the shipped command head attached (``models/student`` +
``models/commands``) streams 100 ms pieces as the recorder delivers them; the clock starts when
the last piece arrives with the key release and stops when the command handler runs (a spoken
"lung window please", espeak-ng) or, for the 10 s budget utterance (9.9 s, the longest the
chunked encoder sees), when the engine has decided (no command that long). Also printed: the bare
streaming student's release cost with and without the command head, and their ratio, measured
in one run. Run: ``.venv/bin/python bench/voice_command_latency.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
BLOCK = 320 * 5  # 100 ms


def long_utterance(seconds: float) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    rng = np.random.default_rng(0)
    audio = 0.2 * np.sin(2 * np.pi * 200 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    return (audio + rng.normal(0, 0.01, t.size)).astype(np.float32)


def release_ms(stream, audio: np.ndarray, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        stream.reset()
        starts = list(range(0, audio.size, BLOCK))
        for s in starts[:-1]:
            stream.push(audio[s : s + BLOCK])
        t0 = time.perf_counter()
        stream.push(audio[starts[-1] :])
        stream.finish()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def engine_ms(engine, audio: np.ndarray, repeats: int, done: list) -> list[float]:
    out = []
    for r in range(repeats):
        starts = list(range(0, audio.size, BLOCK))
        for s in starts[:-1]:
            engine.push_chunk(r, audio[s : s + BLOCK], s)
        engine.wait_idle(120)  # the user is still talking: full chunks are done by release
        done.clear()
        t0 = time.perf_counter()
        engine.push_chunk(r, audio[starts[-1] :], starts[-1])
        engine.finish_utterance(r, audio)
        engine.wait_idle(120)
        end = done[0] if done else time.perf_counter()
        out.append(1000 * (end - t0))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=9.9)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from test_assistant_support import FakeModels

    from radvoice.app.state import FindingsState, PriorsState, TalkState
    from radvoice.assistant import Assistant
    from radvoice.data.tts import synthesize
    from radvoice.data.voices import Voice
    from radvoice.nn.command_head import attach_command_head
    from radvoice.nn.registry import models_dir
    from radvoice.nn.speech_student import SpeechStudent

    torch.set_num_threads(1)
    student = SpeechStudent.load(models_dir() / "student")
    long = long_utterance(args.seconds)
    plain = statistics.median(release_ms(student.stream(), long, args.repeats))
    attach_command_head(student, models_dir() / "commands")
    with_head = statistics.median(release_ms(student.stream(), long, args.repeats))

    models = FakeModels()  # query prototypes only; the speech path is the real student
    models.speech_stream = student.stream
    engine = Assistant(FindingsState(), PriorsState(), TalkState(), models)
    done: list[float] = []
    fired: list[str] = []
    engine.set_command_handler(
        lambda name, p: (done.append(time.perf_counter()), fired.append(name))
    )
    spoken = synthesize("lung window please", Voice("espeak-ng", "en-us", "m3"))
    cmd = engine_ms(engine, spoken, args.repeats, done)
    budget = engine_ms(engine, long, args.repeats, done)
    engine.shutdown()
    print(
        f"bare release ({args.seconds:.1f} s): without command head {plain:7.1f} ms, "
        f"with {with_head:7.1f} ms, ratio {with_head / plain:.2f}"
    )
    print(
        f"release → command executed ('lung window please', {spoken.size / 16000:.1f} s): "
        f"median {statistics.median(cmd):7.1f} ms (max {max(cmd):.1f}); fired {sorted(set(fired))}"
    )
    print(
        f"release → decided ({args.seconds:.1f} s utterance): median "
        f"{statistics.median(budget):7.1f} ms (max {max(budget):.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
