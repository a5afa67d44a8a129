"""Int8 vs float32 speech encoder: held-out-voice accuracy and key release → answer, one run.

    python bench/speech_quant.py [--seconds 10] [--repeats 7] [--cases 40] [--threads 1]

Accuracy on the held-out fixture of ``tests/fixtures/shipped_eval`` (the figures the shipped
model tests guard): spoken query → pathology top-1 (18 held-out phrasings, held-out engines),
spoken prompt → pathology top-1 (36, held-out voices), question routing, speech macro AUROC
on ``--cases`` held-out CT cases, and the cosine between the two precisions' embeddings.
Latency: key release → answer through the app's assistant engine (:class:`Assistant` with the
shipped :class:`RadVoiceModels`), an espeak-ng report of ``--seconds`` pushed in 100 ms pieces
while "talking"; float32 and int8 runs alternate so both see the same load. The acceptance rule
is in docs/notes/perf.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))


def accuracy(models, cases, shipped) -> dict[str, float]:
    from radvoice.nn.zeroshot import zero_shot_probabilities

    _volumes, labels, ct = cases
    scale = float(models._teacher().clip.logit_scale.detach())
    speech = zero_shot_probabilities(ct, shipped._spoken_prompts(models), scale).numpy()
    return {
        "query_top1": shipped.top1(models, shipped.spoken_query_index()),
        "prompt_top1": shipped.top1(models, shipped.prompt_index()),
        "questions_routed": shipped.routed_as_question(models, shipped.spoken_query_index()),
        "statements_routed": 1.0 - shipped.routed_as_question(models, shipped.prompt_index()),
        "speech_macro_auroc": shipped._macro_auroc(labels, speech),
    }


def release_ms(engine, audio: np.ndarray, utt: int) -> float:
    """Chunks while talking (untimed), then the last piece + key release → on_answer."""
    block = 1600
    starts = list(range(0, audio.size, block))
    for s in starts[:-1]:
        engine.push_chunk(utt, audio[s : s + block], s)
    engine.wait_idle(120)
    done = threading.Event()
    engine.on_answer = lambda _a: done.set()
    t0 = time.perf_counter()
    engine.push_chunk(utt, audio[starts[-1] :], starts[-1])
    engine.finish_utterance(utt, audio)
    done.wait(120)
    return 1000 * (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import test_models_shipped as shipped
    from speech_latency import utterance

    from radvoice.assistant import Assistant
    from radvoice.audio import load_audio
    from radvoice.components.state import FindingsState, PriorsState, TalkState
    from radvoice.data.synth import generate_case
    from radvoice.nn.pipeline import RadVoiceModels

    models = {p: RadVoiceModels(device="cpu", speech_precision=p) for p in ("float32", "int8")}
    models["int8"]._bundle = models["float32"]._text_teacher()  # one teacher for both
    gen = [generate_case(shipped.EVAL_SEED, i) for i in range(args.cases)]
    volumes = [c.volume for c in gen]
    labels = np.stack([np.asarray(c.labels) for c in gen])
    ct = torch.from_numpy(np.stack([models["float32"].embed_volume(v) for v in volumes]))
    acc = {p: accuracy(m, (volumes, labels, ct), shipped) for p, m in models.items()}
    cos = []
    for row in shipped.prompt_index() + shipped.spoken_query_index():
        a = load_audio(shipped.FIXTURE / row["file"])
        e32, e8 = (models[p].embed_audio(a) for p in ("float32", "int8"))
        cos.append(float(np.dot(e32, e8)))

    audio = utterance(args.seconds)
    engines = {
        p: Assistant(FindingsState(), PriorsState(), TalkState(), m) for p, m in models.items()
    }
    times: dict[str, list[float]] = {p: [] for p in engines}
    for r in range(args.repeats + 1):  # the first round warms up
        for p, engine in engines.items():
            ms = release_ms(engine, audio, r)
            if r:
                times[p].append(ms)
    for engine in engines.values():
        engine.shutdown()

    load = os.getloadavg()
    print(f"{args.cases} held-out cases, 18 held-out queries, 36 held-out prompts; "
          f"torch threads {args.threads}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{'figure':26s} {'float32':>8s} {'int8':>8s} {'floor':>6s}")
    for key in acc["float32"]:
        print(f"{key:26s} {acc['float32'][key]:8.3f} {acc['int8'][key]:8.3f} "
              f"{shipped.FLOORS.get(key, float('nan')):6.2f}")  # fmt: skip
    print(f"embedding cosine int8 vs float32 ({len(cos)} clips): mean {np.mean(cos):.4f} "
          f"min {np.min(cos):.4f}")  # fmt: skip
    m32, m8 = (statistics.median(times[p]) for p in ("float32", "int8"))
    print(f"key release → answer through the engine, {args.seconds:.1f} s utterance, "
          f"median of {args.repeats}:")  # fmt: skip
    print(f"  float32 {m32:7.1f} ms (min {min(times['float32']):.1f})")
    print(
        f"  int8    {m8:7.1f} ms (min {min(times['int8']):.1f})   ratio int8/float32 {m8 / m32:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
