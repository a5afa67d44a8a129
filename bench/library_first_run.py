"""First-run demo library: how soon it is usable, and what a build costs the user meanwhile.

    python bench/library_first_run.py [--cases 16] [--repeats 5]

Builds ``--cases`` demo cases with the shipped models into a temp library, on a thread the way
the app's background build does, while the assistant engine answers a spoken 10 s report
every second (key release → answer, the same :class:`Assistant` and models). Prints seconds
per case, the projected time until the library is searchable with one page of priors
(8 cases), with 100 cases, and complete (the default 500 + lung1/lung2: what the old
first-run dialog made the user wait for), and the key-release latency during the build
against the latency with no build, all measured in this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def build(models, n: int, out: dict) -> None:
    import torch

    from radvoice.library import CaseLibrary
    from radvoice.library.demo import build_demo

    torch.set_num_threads(1)
    lib = CaseLibrary(Path(tempfile.mkdtemp()), create=True)
    t0 = time.perf_counter()
    build_demo(lib, models, n_synthetic=n)
    out["per_case"] = (time.perf_counter() - t0) / n
    out["searchable_after"] = len(
        lib.search_vector(models.embed_text("pleural effusion"), 8, "both")
    )
    lib.close()


def answer_ms(engine, audio: np.ndarray, utt: int) -> float:
    from speech_quant import release_ms

    return release_ms(engine, audio, utt)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5, help="answers timed per condition")
    args = ap.parse_args()
    import torch
    from speech_latency import utterance

    from radvoice.assistant import Assistant
    from radvoice.components.state import FindingsState, PriorsState, TalkState
    from radvoice.nn.pipeline import RadVoiceModels

    torch.set_num_threads(1)
    models = RadVoiceModels(device="cpu")
    for part in ("ct", "speech", "text"):
        models.preload(part)
    engine = Assistant(FindingsState(), PriorsState(), TalkState(), models)
    audio = utterance(10.0)
    utt = iter(range(10**6))
    answer_ms(engine, audio, next(utt))  # warm-up
    idle = [answer_ms(engine, audio, next(utt)) for _ in range(args.repeats)]
    rows = {}
    for name in ("background build",):
        out: dict = {}
        thread = threading.Thread(target=build, args=(models, args.cases, out))
        thread.start()
        during = []
        while thread.is_alive():
            during.append(answer_ms(engine, audio, next(utt)))
            time.sleep(1.0)
        thread.join()
        rows[name] = (out, during)
    engine.shutdown()
    load = os.getloadavg()
    print(f"{args.cases} demo cases per build; load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f}; key release → answer with no build: median {statistics.median(idle):.0f} ms")  # fmt: skip
    print(f"{'path':32s} {'s/case':>7s} {'8 cases':>8s} {'100 cases':>10s} {'502 cases':>10s} "
          f"{'answer ms during build (median, n)':>36s}")  # fmt: skip
    for name, (out, during) in rows.items():
        pc = out["per_case"]
        med = statistics.median(during) if during else float("nan")
        print(f"{name:32s} {pc:7.2f} {8 * pc:8.0f} {100 * pc:10.0f} {502 * pc:10.0f} "
              f"{med:28.0f} ({len(during)})")  # fmt: skip
        assert out["searchable_after"] > 0
    print("(seconds projected from s/case; the old first-run dialog waited for the 502)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
