"""Precompute what needs no teacher: chunked Whisper features (clean and at 10 dB SNR) and ASR
transcripts of the student corpus, so training and ``radvoice eval`` start from caches.

``python -m radvoice.eval.prepare --data DIR [--config student_kd] [--no-cascade]``
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


def prepare(data: Path, config: str = "student_kd", cascade: bool = True) -> None:
    import torch

    from radvoice.eval.eval_sets import noise_transform, transcripts
    from radvoice.nn.registry import models_dir
    from radvoice.training.config import load_config
    from radvoice.training.student import StudentSpec
    from radvoice.training.student_data import FeatureCache, corpus_utterances, encoder_key

    log = logging.getLogger("radvoice.prepare")
    cache = Path(data) / "cache"
    torch.manual_seed(0)
    student = StudentSpec.from_dict(load_config(config).model).build(models_dir()).eval()
    utts = corpus_utterances(Path(data))
    t0 = time.perf_counter()

    def progress(tag: str):
        def report(done: int, total: int) -> None:
            if done % 64 < 8 or done == total:
                log.info(f"features {tag}: {done}/{total} ({time.perf_counter() - t0:.0f} s)")

        return report

    order = ["train", "val", "test_seen", "test_unseen_speaker", "test_unseen_engine"]
    ordered = sorted(utts, key=lambda u: order.index(u.split) if u.split in order else 9)
    key = encoder_key(student)
    FeatureCache(cache, key).ensure(student, ordered, progress=progress("clean"))
    seen = [u for u in utts if u.split == "test_seen"]
    FeatureCache(cache, key, "snr10").ensure(
        student, seen, noise_transform(), progress=progress("snr10")
    )
    if cascade:
        for split in order[2:]:
            transcripts([u for u in utts if u.split == split], cache, "clean")
        transcripts(seen, cache, "snr10", noise_transform())
    log.info(f"prepared in {time.perf_counter() - t0:.0f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="precompute student features and transcripts")
    p.add_argument("--data", required=True)
    p.add_argument("--config", default="student_kd")
    p.add_argument("--no-cascade", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    prepare(Path(args.data), args.config, not args.no_cascade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
