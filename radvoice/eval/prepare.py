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
    p.add_argument("--teacher", help="also embed every CT case needed, with this teacher")
    p.add_argument("--eval-data", help="with --teacher: the held-out CT corpus")
    p.add_argument("--real-ct", help="with --teacher: folder holding lung2_image.nrrd")
    p.add_argument("--lung2-cases", type=int, default=96)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--skip-features", action="store_true")
    p.add_argument("--texts", action="store_true", help="with --teacher: text targets only")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.skip_features:
        prepare(Path(args.data), args.config, not args.no_cascade)
    if args.teacher and args.texts:
        n = embed_texts(Path(args.teacher), Path(args.data))
        logging.info(f"embedded {n} texts")
    elif args.teacher:
        loaders = needed_cases(Path(args.data), args.eval_data, args.real_ct, args.lung2_cases)
        n = embed_ct_parallel(Path(args.teacher), Path(args.data) / "cache", loaders, args.workers)
        logging.info(f"embedded {n} CT cases ({len(loaders)} needed)")
    return 0


def embed_texts(teacher_dir: Path, data: Path) -> int:
    """Teacher text embeddings of every spoken text and cached transcript (targets cache)."""
    import json

    from radvoice.nn.clip import load_teacher
    from radvoice.training.student_data import TeacherTargets, corpus_utterances, teacher_key

    cache = data / "cache"
    bundle = load_teacher(teacher_dir, with_text=True)
    targets = TeacherTargets(bundle, cache, teacher_key(teacher_dir))
    texts = {u.text for u in corpus_utterances(data)}
    for f in cache.glob("transcripts_*.json"):
        texts |= {t.strip() or "(silence)" for t in json.loads(f.read_text()).values()}
    before = len(targets.text)
    targets.ensure_text(sorted(texts))
    return len(targets.text) - before


def needed_cases(data: Path, eval_data: str | None, real_ct: str | None, n_lung2: int) -> dict:
    """Volume loaders of every case training and ``radvoice eval`` embed."""
    from radvoice.eval.eval_sets import corpus_case_set, lung2_case_set
    from radvoice.eval.runner import calibration_ids
    from radvoice.training.student_data import corpus_utterances

    utts = corpus_utterances(data)
    spoken = {u.case_id for u in utts if u.kind == "report"} | calibration_ids(data, utts)
    loaders = dict(corpus_case_set(data, "spoken", spoken).loaders)
    if eval_data:
        loaders.update(corpus_case_set(Path(eval_data), "test").loaders)
    if real_ct:
        loaders.update(lung2_case_set(Path(real_ct), data / "cache", n_lung2).loaders)
    return loaders


_JOB: dict = {}


def _embed_shard(ids: list[str]) -> dict:
    import torch

    from radvoice.nn.clip import load_teacher
    from radvoice.nn.grid import resample_to_grid

    torch.set_num_threads(1)
    bundle = load_teacher(_JOB["teacher"], with_text=False)
    out = {}
    with torch.inference_mode():
        for cid in ids:
            grid = resample_to_grid(_JOB["loaders"][cid](), bundle.clip.dims.grid)[None]
            out[cid] = bundle.clip.encode_ct(grid)[0].float().cpu()
    return out


def embed_ct_parallel(teacher_dir: Path, cache: Path, loaders: dict, workers: int = 4) -> int:
    """Teacher CT embeddings of ``loaders``' cases in ``workers`` processes, merged into the
    :class:`~radvoice.training.student_data.TeacherTargets` cache. Returns the number added."""
    import multiprocessing as mp

    from radvoice.nn.clip import load_teacher
    from radvoice.training.student_data import TeacherTargets, teacher_key

    targets = TeacherTargets(None, cache, teacher_key(teacher_dir))
    load_teacher(teacher_dir, with_text=False)  # SHA-256 check before forking
    todo = sorted(c for c in loaders if c not in targets.ct)
    if not todo:
        return 0
    _JOB.update(teacher=Path(teacher_dir), loaders=loaders)
    shards = [todo[i::workers] for i in range(workers) if todo[i::workers]]
    with mp.get_context("fork").Pool(len(shards)) as pool:
        for part in pool.imap_unordered(_embed_shard, shards):
            targets.ct.update(part)
    targets.save()
    return len(todo)


if __name__ == "__main__":
    sys.exit(main())
