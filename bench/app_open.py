"""The running app, driven under Xvfb: cold start, open → findings on screen, peak memory.

    python bench/app_open.py [--before DIR] [--rounds 2] [--opens 3] [--volume PATH] [--big]

Each round starts the real app (``radvoice.app.main.run_app`` on the embedded sample case, a
fresh settings folder, no case library) in a new process and records, from the moment the
process is spawned:

* ``interactive``: the event loop runs the first time (the window answers input);
* ``sample shown``: the sample case is on screen (views rendered);
* ``findings``: the zero-shot findings are on screen (the panel left its empty state);
* ``models loaded``: findings shown and no model left loading in the background (the opens
  below start ``--settle`` seconds after it: the running app, not its start-up);
* ``open → findings``: then ``--opens`` times File > Open of the sample case and of
  ``--volume`` (default: the real CT lung1, 512×512×N): open request → findings on screen;
* ``bare encoder``: ``embed_volume`` (resample + CT encoder) of that volume on the app's own
  CT worker, after warm-up — the ratio open → findings / bare is the app's overhead;
* with ``--big``: a 512×512×600 int16 volume (NRRD in a temp folder) is opened last; its peak
  RSS growth over the process's RSS before opening it, as a multiple of the volume's bytes.

With ``--before DIR`` (a checkout of the old code, e.g. ``git archive``) the rounds alternate
between that checkout and this one in the same run and the table prints both and their ratio.
One Xvfb server serves every round. Load average printed with the table.
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

REPO = Path(__file__).resolve().parents[1]
CHILD_ENV = "RADVOICE_BENCH_APP"


# -- the app process ----------------------------------------------------------------------------
def child() -> None:
    """Runs inside the app process: run_app with a GUI-thread probe timer."""
    t_spawn = float(os.environ["RADVOICE_BENCH_T0"])
    cfg = json.loads(os.environ[CHILD_ENV])
    out = open(cfg["out"], "a", buffering=1)  # noqa: SIM115 - one line per event

    def mark(event: str, **extra) -> None:
        out.write(json.dumps({"event": event, "t": time.time() - t_spawn, **extra}) + "\n")

    import radvoice.app.main_window as mw
    from radvoice.app import main as app_main

    original_init = mw.MainWindow.__init__

    def patched_init(self, *a, **k) -> None:
        original_init(self, *a, **k)
        from PySide6.QtCore import QTimer

        self._bench_probe = Probe(self, cfg, mark, QTimer)  # kept alive with the window

    mw.MainWindow.__init__ = patched_init
    app_main.run_app(None)
    out.close()


class Probe:
    """GUI-thread state machine polled every 5 ms (the window's own event loop)."""

    def __init__(self, win, cfg, mark, qtimer) -> None:
        self.win, self.cfg, self.mark = win, cfg, mark
        self.step, self.t_open, self.seen_empty, self.opens = "start", 0.0, False, []
        self.marked_ready = False
        self.timer = qtimer(win)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def warming_up(self) -> bool:
        """The assistant still loads models in the background (apps that have a warm-up)."""
        bridge = getattr(self.win, "assistant_bridge", None)
        warmup = getattr(getattr(bridge, "engine", None), "_warmup", None)
        return warmup is not None and warmup.thread.is_alive()

    def findings_shown(self) -> bool:
        """Findings on screen, or the analysis finished without any (a volume the CT model
        calls out of its domain, e.g. the synthetic --big cylinder: "No findings …")."""
        if self.win.findings.status.startswith("No findings"):
            return True
        return not self.win.findings_panel.showing_empty_state

    def tick(self) -> None:  # noqa: C901 - one state machine
        win = self.win
        if self.step == "start":
            self.mark("interactive")
            self.step = "sample"
        elif self.step == "sample" and win.viewer.volume is not None and not win._dirty:
            self.mark("sample shown")
            self.step = "findings"
        elif self.step == "findings" and self.findings_shown():
            self.mark("findings")
            self.step, self.t_idle = "idle", time.time()
        elif self.step == "idle" and self.warming_up():
            pass
        elif self.step == "idle" and not self.marked_ready:
            self.mark("models loaded")  # findings shown and no background loading left
            self.marked_ready, self.t_idle = True, time.time()
        elif self.step == "idle" and time.time() - self.t_idle > self.cfg["settle"]:
            self.opens = [p for p in self.cfg["volumes"] for _ in range(self.cfg["opens"])]
            self.step = "next"
        elif self.step == "next":
            if not self.opens:
                self.step = "bare"
                return
            self.path = self.opens.pop(0)
            self.t_open, self.seen_empty = time.time(), False
            win.open_path(self.path)
            self.step = "wait"
        elif self.step == "wait":
            self.seen_empty = self.seen_empty or not self.findings_shown()
            if self.seen_empty and self.findings_shown():
                self.mark("open", path=self.path, seconds=time.time() - self.t_open)
                self.step = "next"
        elif self.step == "bare":
            self.timer.stop()
            self.bare()
            self.step = "big" if self.cfg.get("big") else "quit"
            self.timer.start()
        elif self.step == "big":
            self.rss0 = rss_mb()
            self.t_open, self.seen_empty, self.path = time.time(), False, self.cfg["big"]
            win.open_path(self.cfg["big"])
            self.step = "big_wait"
        elif self.step == "big_wait":
            self.seen_empty = self.seen_empty or self.win.findings.status.startswith("Analysing")
            if self.seen_empty and self.findings_shown():
                self.mark("big", seconds=time.time() - self.t_open, rss0=self.rss0,
                          peak=peak_rss_mb(), nbytes=win.viewer.volume.array.nbytes)  # fmt: skip
                self.step = "quit"
        elif self.step == "quit":
            self.timer.stop()
            win.close()
            from PySide6.QtWidgets import QApplication

            QApplication.instance().quit()

    def bare(self) -> None:
        """embed_volume of each volume on the app's CT worker (same threads), median of 3."""
        from radvoice import imaging

        engine = self.win.assistant_bridge.engine
        for path in dict.fromkeys(self.cfg["volumes"]):
            volume = imaging.read_volume(path)

            def run(volume=volume) -> list[float]:
                engine.models.embed_volume(volume)  # warm
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    engine.models.embed_volume(volume)
                    times.append(time.perf_counter() - t0)
                return times

            times = engine._ct_pool.submit(run).result()
            self.mark("bare", path=path, seconds=statistics.median(times))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the driver ---------------------------------------------------------------------------------
def start_xvfb() -> tuple[subprocess.Popen, str]:
    for n in range(90, 140):
        if not Path(f"/tmp/.X{n}-lock").exists():
            proc = subprocess.Popen(
                ["Xvfb", f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(1.0)
            if proc.poll() is None:
                return proc, f":{n}"
    raise SystemExit("could not start Xvfb")


def big_volume(folder: Path) -> Path:
    """A 512×512×600 int16 CT-like volume (NRRD) for the memory figure."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from radvoice.imaging.itk_io import write_volume  # type: ignore[attr-defined]
    from radvoice.imaging.volume import Volume

    z, y, x = np.ogrid[:600, :512, :512]
    body = ((y - 256) ** 2 + (x - 256) ** 2) < 220**2
    arr = np.where(body, 40, -1000).astype(np.int16) + (z % 7).astype(np.int16)
    path = folder / "big_512x512x600.nrrd"
    write_volume(Volume(arr, spacing=(0.7, 0.7, 0.6)), path)
    return path


def run_round(checkout: Path, cfg: dict, display: str, tmp: Path) -> list[dict]:
    events = tmp / f"events-{time.time_ns()}.jsonl"
    settings = tempfile.mkdtemp(dir=tmp)
    env = dict(os.environ, DISPLAY=display, PYTHONPATH=str(checkout),
               RADVOICE_SETTINGS_DIR=settings, RADVOICE_LIBRARY=str(Path(settings) / "lib"),
               **{CHILD_ENV: json.dumps(cfg | {"out": str(events)})})  # fmt: skip
    env.pop("QT_QPA_PLATFORM", None)
    code = f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); import app_open; app_open.child()"
    env["RADVOICE_BENCH_T0"] = repr(time.time())
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(checkout),
                              capture_output=True, text=True, timeout=cfg["timeout"])  # fmt: skip
        code_, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:  # keep the events it wrote
        code_, err = "timeout", (exc.stderr or b"").decode(errors="replace") if isinstance(
            exc.stderr, bytes) else str(exc.stderr or "")  # fmt: skip
    rows = [json.loads(x) for x in events.read_text().splitlines()] if events.exists() else []
    if code_ != 0 or not any(r["event"] == "bare" for r in rows):
        print(f"round in {checkout} incomplete (exit {code_}): {[r['event'] for r in rows]}")
        print(err[-2000:])
    return rows


def summarise(rows: list[list[dict]], volumes: list[str]) -> dict[str, float]:
    out: dict[str, list[float]] = {}
    for run in rows:
        for r in run:
            if r["event"] in ("open", "bare"):
                key = f"{r['event']} {Path(r['path']).name}"
                if r["event"] == "open":
                    key = f"open → findings {Path(r['path']).name}"
                out.setdefault(key, []).append(r["seconds"])
            elif r["event"] == "big":
                out.setdefault("big open → findings", []).append(r["seconds"])
                grow = (r["peak"] - r["rss0"]) * 2**20 / r["nbytes"]
                out.setdefault("big peak RSS growth / volume bytes", []).append(grow)
                out.setdefault("big peak RSS MB", []).append(r["peak"])
            else:
                out.setdefault(f"cold start → {r['event']}", []).append(r["t"])
    med = {k: statistics.median(v) for k, v in out.items()}
    for v in volumes:
        name = Path(v).name
        if f"bare {name}" in med and f"open → findings {name}" in med:
            med[f"open / bare {name}"] = med[f"open → findings {name}"] / med[f"bare {name}"]
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="a checkout of the old code to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--opens", type=int, default=3)
    ap.add_argument("--settle", type=float, default=4.0, help="idle seconds before the opens")
    ap.add_argument(
        "--volume", default=str(REPO.parent / "shared" / "data" / "ct" / "lung1_image.nrrd")
    )
    ap.add_argument("--big", action="store_true", help="also open a 512×512×600 volume")
    ap.add_argument("--timeout", type=int, default=400)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from radvoice.imaging.sample import sample_case_path

    volumes = [str(sample_case_path())] + ([args.volume] if Path(args.volume).exists() else [])
    tmp = Path(tempfile.mkdtemp(prefix="radvoice-bench-"))
    cfg = {"volumes": volumes, "opens": args.opens, "settle": args.settle,
           "timeout": args.timeout, "big": str(big_volume(tmp)) if args.big else ""}  # fmt: skip
    xvfb, display = start_xvfb()
    checkouts = {"after": REPO} | ({"before": args.before.resolve()} if args.before else {})
    results: dict[str, list[list[dict]]] = {k: [] for k in checkouts}
    try:
        for _ in range(args.rounds):
            for name in reversed(list(checkouts)):  # before first, then after
                results[name].append(run_round(checkouts[name], cfg, display, tmp))
    finally:
        xvfb.terminate()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: summarise(v, volumes) for k, v in results.items()}
    load = os.getloadavg()
    print(f"{args.rounds} rounds, {args.opens} opens each; {os.cpu_count()} CPUs; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (at the end)")  # fmt: skip
    keys = list(dict.fromkeys(k for m in med.values() for k in m))
    head = f"{'figure (median)':44s}" + "".join(f"{k:>10s}" for k in med)
    print(head + ("  after/before" if len(med) == 2 else ""))
    for key in keys:
        vals = [m.get(key, float("nan")) for m in med.values()]
        line = f"{key:44s}" + "".join(f"{v:10.2f}" for v in vals)
        if len(vals) == 2 and "before" in med:
            line += f"  {med['after'].get(key, float('nan')) / med['before'].get(key, float('nan')):10.2f}"
        print(line)
    print("(seconds unless named otherwise; cold start counts from the process spawn)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
