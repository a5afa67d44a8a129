"""Key-release-to-answer latency of the speech student vs full re-encoding vs the ASR cascade.

    .venv/bin/python bench/speech_latency.py [--sizes tiny.en base] [--seconds 10] [--repeats 5]
        [--chunk 2.0 --context 1.0] [--threads 1] [--student DIR] [--no-cascade] [--json OUT]

For each Whisper size, on one utterance of ``--seconds`` (espeak-ng reading a report, looped
to length), all measured in this one run on this machine:

* streaming: the utterance is pushed in 100 ms pieces as a recorder would (chunks are encoded
  while "talking", untimed); the timed part starts at key release: pushing the last piece
  (which may complete a chunk) and ``finish()`` (the last chunk's log-mel and encoder pass, if
  any audio is left, plus the head over all frames) → 512-d embedding;
* full re-encoding: ``embed_audio`` on the whole utterance (every chunk window, batched), and
  one unchunked encoder pass over the whole utterance + head;
* ASR cascade: ctranslate2 Whisper (int8, greedy) transcribes the same audio, then the text
  teacher (all-MiniLM-L6-v2 + projection) embeds the transcript.

Also prints how the variable-length encoder outputs differ from Whisper's 30 s padded ones
(frame-wise cosine on the speech frames), for the whole utterance and for the chunked windows.
With several ``--sizes`` (default tiny.en and base) it ends with each size's timings as a
multiple of the first's (base / tiny.en). ``--student DIR`` benchmarks that trained student for
its own encoder size and a fresh head of the same shape for the other sizes; for an ensemble
student it also times the release path with one of its embedding heads alone (heads and the
question head, if any, against one head).
Medians of ``--repeats``; ratios are taken between numbers of this run only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REPORT = (
    "Findings: the heart is enlarged and there is a small left pleural effusion with adjacent "
    "atelectasis. Calcified plaques are seen in the coronary arteries. There is no pulmonary "
    "nodule and no lymphadenopathy. Impression: cardiomegaly with a small pleural effusion."
)


def utterance(seconds: float) -> np.ndarray:
    """espeak-ng speech of a report, looped/trimmed to ``seconds`` (synthetic if no espeak)."""
    from radvoice.audio.loading import load_audio

    n = int(seconds * 16000)
    if shutil.which("espeak-ng") is None:
        from radvoice.nn.whisper.equivalence import synthetic_speechlike

        print("espeak-ng missing: using a synthetic speech-like signal")
        return synthetic_speechlike(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "report.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), REPORT], check=True
        )
        audio = load_audio(wav)
    reps = -(-n // len(audio))
    return np.tile(audio, reps)[:n].astype(np.float32)


def times_ms(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def padding_study(encoder, audio: np.ndarray, chunking) -> dict[str, float]:
    """Cosine between variable-length and 30 s padded encoder outputs on the same frames."""
    import torch

    from radvoice.audio.mel import log_mel_spectrogram
    from radvoice.nn.streaming import encode_windows, utterance_features
    from radvoice.nn.whisper.equivalence import compare_outputs

    with torch.inference_mode():
        mel = log_mel_spectrogram(audio)
        padded_mel = log_mel_spectrogram(audio, padding=480_000)[:, :3000]
        padded = encoder(padded_mel[None])[0].numpy()
        whole = encoder(mel[None])[0].numpy()
        feats = utterance_features(audio, chunking)
        chunked = torch.cat(encode_windows(encoder, feats)).numpy()
    n = whole.shape[0]
    rep_whole = compare_outputs(whole, padded[:n])
    m = min(n, chunked.shape[0])
    rep_chunk = compare_outputs(chunked[:m], padded[:m])
    rep_chunk_whole = compare_outputs(chunked[:m], whole[:m])
    return {
        "unpadded_vs_padded_cos_mean": rep_whole.mean_cosine,
        "unpadded_vs_padded_cos_min": rep_whole.min_cosine,
        "chunked_vs_padded_cos_mean": rep_chunk.mean_cosine,
        "chunked_vs_padded_cos_min": rep_chunk.min_cosine,
        "chunked_vs_unpadded_cos_mean": rep_chunk_whole.mean_cosine,
        "pooled_mean_unpadded_vs_padded_cos": float(
            np.dot(whole.mean(0), padded[:n].mean(0))
            / (np.linalg.norm(whole.mean(0)) * np.linalg.norm(padded[:n].mean(0)))
        ),
    }


def bench_size(size: str, audio: np.ndarray, args, embed_text) -> dict:
    import torch

    from radvoice.nn.speech_student import HeadConfig, SpeechStudent
    from radvoice.nn.streaming import ChunkingConfig

    chunking = ChunkingConfig(args.chunk, args.context)
    head = HeadConfig()
    student = None
    if args.student:
        trained = SpeechStudent.load(Path(args.student))
        chunking, head = trained.config.chunking, trained.config.head
        if trained.config.encoder_name == f"whisper-{size}":
            student = trained
    if student is None:  # a fresh head (of the trained one's shape) on this size's encoder
        student = SpeechStudent.from_whisper(
            REPO / "models" / f"whisper-{size}", head=head, chunking=chunking
        )
    student.eval()
    piece = 1600  # 100 ms

    def stream_once(
        timed: list[float], talk: list[float], cpu: list[float] | None = None, model=student
    ) -> None:
        session = model.stream()
        t_talk = 0.0
        starts = list(range(0, len(audio), piece))
        for s in starts[:-1]:
            t0 = time.perf_counter()
            session.push(audio[s : s + piece])
            t_talk += time.perf_counter() - t0
        # key release: the recorder's last piece arrives, then the answer is computed
        t0, c0 = time.perf_counter(), time.process_time()
        session.push(audio[starts[-1] :])
        session.finish()
        timed.append((time.perf_counter() - t0) * 1e3)
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1e3)
        talk.append(t_talk * 1e3)

    release, talk, release_cpu = [], [], []
    stream_once([], [])  # warm-up
    for _ in range(args.repeats):
        stream_once(release, talk, release_cpu)

    def whole_pass() -> None:
        from radvoice.audio.mel import log_mel_spectrogram

        with torch.inference_mode():
            frames = student.encode_mel(log_mel_spectrogram(audio)[None])
            student.head(frames, torch.ones(frames.shape[:2], dtype=torch.bool))

    result = {
        "size": size,
        "chunk_s": chunking.chunk_seconds,
        "context_s": chunking.context_seconds,
        "release_ms": statistics.median(release),
        "release_min_ms": min(release),
        "release_cpu_ms": statistics.median(release_cpu),
        "talk_encode_ms_total": statistics.median(talk),
    }
    if student.config.members > 1:  # the same release path with one member's head alone
        one = one_member(student)
        one_release: list[float] = []
        stream_once([], [], model=one)
        for _ in range(args.repeats):
            stream_once(one_release, [], model=one)
        result["members"] = student.config.members
        result["question_head"] = student.question is not None
        result["release_one_head_ms"] = statistics.median(one_release)
    full = times_ms(lambda: student.embed_audio(audio), args.repeats)
    whole = times_ms(whole_pass, args.repeats)
    result |= {
        "full_chunked_ms": statistics.median(full),
        "full_chunked_min_ms": min(full),
        "full_unchunked_ms": statistics.median(whole),
        "full_unchunked_min_ms": min(whole),
        **padding_study(student.encoder, audio, chunking),
    }
    if not args.no_cascade:
        from radvoice.nn.whisper.cascade import AsrCascade

        cascade = AsrCascade(size, threads=args.threads or 0, embed_text=embed_text)
        runs = [cascade.run(audio) for _ in range(max(1, args.repeats // 2) + 1)][1:]
        result["cascade_transcribe_ms"] = statistics.median(r.transcribe_ms for r in runs)
        result["cascade_embed_ms"] = statistics.median(r.embed_ms for r in runs)
        result["cascade_ms"] = result["cascade_transcribe_ms"] + result["cascade_embed_ms"]
        result["cascade_min_ms"] = min(r.transcribe_ms + r.embed_ms for r in runs)
        result["cascade_text"] = runs[0].text
    return result


def one_member(student):
    """A single-head student made of an ensemble's encoder and its first member's head (no
    question head)."""
    from dataclasses import replace

    from radvoice.nn.speech_student import SpeechStudent

    one = SpeechStudent(replace(student.config, members=1, question=None), student.encoder)
    one.head.load_state_dict(student.head.members[0].state_dict())
    return one.eval()


RATIO_KEYS = (
    ("key release → embedding, median", "release_ms"),
    ("key release → embedding, min", "release_min_ms"),
    ("key release CPU time", "release_cpu_ms"),
    ("full re-encoding, chunked windows", "full_chunked_ms"),
    ("full re-encoding, one pass", "full_unchunked_ms"),
)


def print_ratios(results: list[dict]) -> None:
    """Each size's timings as a multiple of the first size's (e.g. base / tiny.en)."""
    first = results[0]
    for r in results[1:]:
        print(f"\n{r['size']} / {first['size']} (same utterance, same run)")
        for label, key in RATIO_KEYS:
            ratio = r[key] / first[key]
            r[f"ratio_to_{first['size']}_{key}"] = ratio
            print(f"  {label:<38}{r[key]:8.1f} / {first[key]:7.1f} ms = {ratio:5.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--chunk", type=float, default=2.0)
    parser.add_argument("--context", type=float, default=1.0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch/ct2 threads (0: torch's default)"
    )
    parser.add_argument("--student", help="a trained student folder instead of a fresh head")
    parser.add_argument("--no-cascade", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    audio = utterance(args.seconds)
    embed_text = None
    if not args.no_cascade:
        from radvoice.nn.text_encoder import TextTeacher

        teacher = TextTeacher().eval()

        def embed_text(text: str) -> np.ndarray:
            with torch.inference_mode():
                return teacher([text or " "])[0].numpy()

    load = os.getloadavg()[0]
    print(
        f"utterance {len(audio) / 16000:.1f} s, torch threads {torch.get_num_threads()}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} (timings inflate with load)"
    )
    results = [bench_size(size, audio, args, embed_text) for size in args.sizes]
    for r in results:
        rel, rel_min = r["release_ms"], r["release_min_ms"]

        def line(
            label: str, med: float, best: float, ratio: bool = True, rel=rel, rel_min=rel_min
        ) -> None:
            text = f"  {label:<38}{med:8.1f} ms (min {best:7.1f})"
            if ratio:
                text += f"  ratio {med / rel:5.1f}x (min/min {best / rel_min:5.1f}x)"
            print(text)

        print(f"\nWhisper {r['size']} (chunks {r['chunk_s']} s + {r['context_s']} s left context)")
        line("key release → embedding (streaming)", rel, rel_min, ratio=False)
        print(
            f"  {'  CPU time of that path (all threads)':<38}{r['release_cpu_ms']:8.1f} ms"
            " (= wall time on idle cores when single-threaded)"
        )
        if "release_one_head_ms" in r:
            one = r["release_one_head_ms"]
            print(
                f"  {'  one embedding head alone':<38}{one:8.1f} ms: {r['members']} heads "
                f"(+ question head: {r['question_head']}) cost {rel / one:4.2f}x one"
            )
        print(f"  {'encoding while talking (all chunks)':<38}{r['talk_encode_ms_total']:8.1f} ms")
        line("full re-encoding, chunked windows", r["full_chunked_ms"], r["full_chunked_min_ms"])
        line("full re-encoding, one pass", r["full_unchunked_ms"], r["full_unchunked_min_ms"])
        if "cascade_ms" in r:
            line("ASR cascade (transcribe + text embed)", r["cascade_ms"], r["cascade_min_ms"])
            print(
                f"    transcribe {r['cascade_transcribe_ms']:.1f} ms + embed "
                f"{r['cascade_embed_ms']:.1f} ms; transcript: {r['cascade_text']!r}"
            )
        print(
            f"  unpadded vs 30 s padded encoder frames: cosine mean "
            f"{r['unpadded_vs_padded_cos_mean']:.4f} min {r['unpadded_vs_padded_cos_min']:.4f};"
            f" mean-pooled {r['pooled_mean_unpadded_vs_padded_cos']:.4f}"
        )
        print(
            f"  chunked vs padded: cosine mean {r['chunked_vs_padded_cos_mean']:.4f} min "
            f"{r['chunked_vs_padded_cos_min']:.4f}; chunked vs unpadded mean "
            f"{r['chunked_vs_unpadded_cos_mean']:.4f}"
        )
    if len(results) > 1:
        print_ratios(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
