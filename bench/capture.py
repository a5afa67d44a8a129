"""Capture latency and idle cost of the push-to-talk path, measured in one run.

* Latency: from a block's arrival in the PortAudio callback to the log-mel frames it completes
  being available to a streaming consumer (worker thread: mono mix, resample to 16 kHz, chunk
  dispatch, :class:`StreamingLogMel`). Reported as median and p95, and as ratios to the block
  (chunk) duration.
* Idle CPU: CPU time of the capture worker thread (``time.thread_time`` inside the thread) and
  of the whole process (PortAudio's callback thread included) while the stream runs idle,
  as a fraction of one core.

By default the microphone is a private PulseAudio null sink (the same set-up as the tests) with
espeak-ng speech played into it; ``--device NAME`` uses a real input device instead.

    .venv/bin/python bench/capture.py [--seconds 6] [--device NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

TEXT = (
    "Findings: there is a small nodule in the right upper lobe. "
    "No pleural effusion. The heart size is normal."
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="idle CPU window")
    parser.add_argument("--device", default=None, help="a real input device name")
    args = parser.parse_args()

    pulse = None
    wav = None
    if args.device is None:
        from audio_support import PulseUnavailable, espeak_wav, reinit_portaudio, start_pulse

        try:
            pulse = start_pulse()
        except PulseUnavailable as err:
            print(f"capture bench: PulseAudio unavailable ({err}); pass --device NAME")
            return 2
        os.environ["PULSE_SERVER"] = pulse.server
        os.environ["PULSE_CLIENTCONFIG"] = pulse.env["PULSE_CLIENTCONFIG"]
        reinit_portaudio()
        wav = espeak_wav(TEXT, Path(tempfile.mkdtemp(prefix="rv-bench-")) / "speech.wav")

    from radvoice.audio import PushToTalkRecorder, RecorderConfig, StreamingLogMel
    from radvoice.audio.utterance import AudioChunk

    config = RecorderConfig()
    rec = PushToTalkRecorder(config=config)
    rec.select_device(args.device or "pulse")
    mel = StreamingLogMel()
    latencies: list[float] = []
    frames = [0]
    done = threading.Event()

    def on_chunk(chunk: AudioChunk) -> None:
        if chunk.final:
            mel.finish()
            done.set()
            return
        produced = mel.push(chunk.samples).shape[1]
        if produced and chunk.start > 0:  # the pre-roll chunk is old audio, not a new arrival
            latencies.append(time.monotonic() - chunk.arrival)
            frames[0] += produced

    rec.on_chunk(on_chunk)
    levels: list[float] = []
    rec.on_level(lambda lv: levels.append(lv.time))
    rec.start()
    try:
        deadline = time.monotonic() + 10
        while not levels and time.monotonic() < deadline:
            time.sleep(0.01)
        if not levels:
            print(f"capture bench: no audio from the device ({rec.state}: {rec.message})")
            return 2
        time.sleep(1.0)

        # idle CPU: worker thread and whole process
        proc = psutil.Process()
        cpu0, worker0, wall0 = proc.cpu_times(), rec.cpu_seconds, time.monotonic()
        time.sleep(args.seconds)
        cpu1, worker1, wall1 = proc.cpu_times(), rec.cpu_seconds, time.monotonic()
        wall = wall1 - wall0
        worker_idle = (worker1 - worker0) / wall
        proc_idle = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
        n_levels = sum(1 for t in levels if wall0 <= t <= wall1)

        # latency while talking
        rec.press()
        if pulse is not None and wav is not None:
            pulse.play(wav).wait(30)
        else:
            time.sleep(4.0)
        time.sleep(0.2)
        rec.release()
        done.wait(10)
        rate = rec.stream_rate
    finally:
        rec.stop()
        if pulse is not None:
            pulse.stop()

    lat = np.array(latencies)
    block = config.block_s
    print(
        f"device: {args.device or 'PulseAudio null-sink monitor'} at {rate} Hz, block {block * 1000:.0f} ms"
    )
    print(f"blocks measured: {lat.size}, mel frames: {frames[0]}")
    print(
        f"arrival -> mel frame: median {np.median(lat) * 1000:.2f} ms "
        f"({np.median(lat) / block:.3f} x chunk), p95 {np.percentile(lat, 95) * 1000:.2f} ms "
        f"({np.percentile(lat, 95) / block:.3f} x chunk), max {lat.max() * 1000:.2f} ms"
    )
    print(
        f"idle CPU over {wall:.1f} s: capture thread {worker_idle * 100:.2f} % of a core, "
        f"whole process {proc_idle * 100:.2f} %; level readings {n_levels / wall:.1f} per s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
