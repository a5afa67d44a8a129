"""Test helpers for audio: a private PulseAudio with a null sink, and a fake stream backend."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from radvoice.audio.backend import InputDevice, candidate_rates
from radvoice.audio.errors import MicrophoneUnavailableError

SINK = "rv_sink"


class PulseUnavailable(RuntimeError):
    """PulseAudio could not be started here (the reason is the message)."""


@dataclass
class PulseServer:
    """A private PulseAudio daemon (null sink ``rv_sink``, its monitor as default source)."""

    runtime_dir: Path
    server: str
    env: dict[str, str]
    daemon: subprocess.Popen[bytes]
    keepalive: subprocess.Popen[bytes] | None = None
    players: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def play(self, wav: str | Path) -> subprocess.Popen[bytes]:
        """Start ``paplay`` of ``wav`` into the null sink (returns at once)."""
        proc = subprocess.Popen(
            ["paplay", "-d", SINK, str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.players.append(proc)
        return proc

    def pactl(self, *args: str) -> str:
        out = subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        if out.returncode != 0:
            raise PulseUnavailable(f"pactl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def stop(self, keep_dir: bool = False) -> None:
        for proc in [*self.players, self.keepalive, self.daemon]:
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()
        self.players.clear()
        if not keep_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_pulse(timeout: float = 15.0, runtime: Path | None = None) -> PulseServer:
    """Start a private PulseAudio; raise :class:`PulseUnavailable` with the reason on failure.

    ``runtime``: reuse a folder (and so the socket path) of a server that was stopped with
    ``stop(keep_dir=True)``: clients see the same server come back.
    """
    for tool in ("pulseaudio", "pactl", "pacat", "paplay"):
        if shutil.which(tool) is None:
            raise PulseUnavailable(f"{tool} not installed (apt-get install pulseaudio-utils)")
    runtime = runtime or Path(tempfile.mkdtemp(prefix="rv-pulse-"))
    socket = runtime / "native"
    client_conf = runtime / "client.conf"
    client_conf.write_text("autospawn = no\n")
    env = dict(os.environ)
    env.update(
        XDG_RUNTIME_DIR=str(runtime),
        HOME=str(runtime),
        PULSE_RUNTIME_PATH=str(runtime / "pulse"),
        PULSE_STATE_PATH=str(runtime / "state"),
        PULSE_CLIENTCONFIG=str(client_conf),
        PULSE_SERVER=f"unix:{socket}",
    )
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    cmd = [
        "pulseaudio",
        "-n",
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--use-pid-file=no",
        "--log-target=stderr",
        "--log-level=error",
        "-L",
        f"module-native-protocol-unix socket={socket} auth-anonymous=1",
        "-L",
        f"module-null-sink sink_name={SINK} rate=48000 channels=2",
    ]
    daemon = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=runtime
    )
    server = PulseServer(runtime, env["PULSE_SERVER"], env, daemon)
    deadline = time.monotonic() + timeout
    while True:
        if daemon.poll() is not None:
            err = daemon.stderr.read().decode(errors="replace") if daemon.stderr else ""
            server.stop()
            raise PulseUnavailable(f"pulseaudio exited: {err.strip().splitlines()[-1:]}")
        ok = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10)
        if ok.returncode == 0:
            break
        if time.monotonic() > deadline:
            server.stop()
            raise PulseUnavailable("pulseaudio did not answer within the timeout")
        time.sleep(0.1)
    try:
        server.pactl("set-default-sink", SINK)
        server.pactl("set-default-source", f"{SINK}.monitor")
    except PulseUnavailable:
        server.stop()
        raise
    # An idle null sink runs with ~2 s latency; a silent stream keeps it at a few ms.
    server.keepalive = subprocess.Popen(
        ["pacat", "-d", SINK, "--raw", "--format=s16le", "--rate=48000", "--channels=2",
         "--latency-msec=20", "/dev/zero"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not server.pactl("list", "short", "sink-inputs").strip():
        if time.monotonic() > deadline:
            server.stop()
            raise PulseUnavailable("the keep-alive stream did not connect")
        time.sleep(0.05)
    return server


ENV_KEYS = ("PULSE_SERVER", "PULSE_CLIENTCONFIG")


@contextmanager
def pulse_environment() -> Iterator[PulseServer]:
    """A private PulseAudio for this process: env set, PortAudio re-initialised, then undone.

    Raises :class:`PulseUnavailable` when the server cannot start.
    """
    server = start_pulse()
    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    os.environ["PULSE_SERVER"] = server.server
    os.environ["PULSE_CLIENTCONFIG"] = server.env["PULSE_CLIENTCONFIG"]
    try:
        reinit_portaudio()
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reinit_portaudio()


def skip_or_fail(err: Exception) -> None:
    """Skip with the reason printed; fail instead where audio must run (CI)."""
    import pytest

    if os.environ.get("RADVOICE_REQUIRE_AUDIO") or os.environ.get("CI"):
        pytest.fail(f"PulseAudio must run here but could not start: {err}")
    print(f"\nSKIP reason: PulseAudio could not start: {err}")
    pytest.skip(f"PulseAudio could not start: {err}")


def reinit_portaudio() -> None:
    """Make PortAudio (and ALSA's pulse plugin) see the current environment."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def espeak_wav(text: str, path: Path, speed: int = 160) -> Path:
    """Synthesize ``text`` with espeak-ng into ``path`` (22.05 kHz mono WAV)."""
    subprocess.run(
        ["espeak-ng", "-s", str(speed), "-w", str(path), text], check=True, capture_output=True
    )
    return path


def align_and_correlate(captured: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Best lag of ``reference`` inside ``captured`` (FFT cross-correlation), and the Pearson
    correlation of the aligned segments."""
    n = captured.size + reference.size
    size = 1 << (n - 1).bit_length()
    xc = np.fft.irfft(np.fft.rfft(captured, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([xc[: captured.size], xc[size - reference.size + 1 :]])
    lag_values = np.concatenate([np.arange(captured.size), np.arange(-reference.size + 1, 0)])
    lag = int(lag_values[int(np.argmax(lags))])
    lo = max(0, lag)
    hi = min(captured.size, lag + reference.size)
    seg = captured[lo:hi]
    ref = reference[lo - lag : hi - lag]
    if seg.size < 2:
        return lag, 0.0
    return lag, float(np.corrcoef(seg, ref)[0, 1])


# ------------------------------------------------------------------------ fake backend
class FakeStream:
    """A stream whose blocks the test pushes with :meth:`feed`."""

    def __init__(
        self,
        device: InputDevice,
        rate: int,
        channels: int,
        blocksize_s: float,
        callback: Callable[[np.ndarray, str], None],
        on_finished: Callable[[], None],
    ) -> None:
        self.device = device
        self.samplerate = rate
        self.channels = channels
        self.blocksize = max(1, int(round(rate * blocksize_s)))
        self._callback = callback
        self._on_finished = on_finished
        self.closed = False

    @property
    def active(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True

    def feed(self, mono: np.ndarray, status: str = "") -> None:
        """Deliver ``mono`` (at the stream rate) as blocks, duplicated over the channels."""
        mono = np.asarray(mono, np.float32)
        for pos in range(0, mono.size, self.blocksize):
            block = mono[pos : pos + self.blocksize]
            if self.closed:
                return
            self._callback(np.repeat(block[:, None], self.channels, axis=1), status)

    def die(self) -> None:
        """The device vanished: PortAudio ends the stream."""
        self.closed = True
        self._on_finished()


class FakeBackend:
    """Devices and streams under test control."""

    def __init__(self, devices: list[InputDevice] | None = None) -> None:
        self.devices = (
            devices
            if devices is not None
            else [InputDevice(0, "Fake USB mic", "ALSA", 2, 48_000, True)]
        )
        self.refused_rates: set[int] = set()
        self.streams: list[FakeStream] = []
        self.refreshes = 0

    @property
    def stream(self) -> FakeStream:
        return self.streams[-1]

    def list_devices(self) -> list[InputDevice]:
        return list(self.devices)

    def refresh(self) -> None:
        self.refreshes += 1

    def open(
        self,
        device: InputDevice,
        blocksize_s: float,
        callback: Callable[[np.ndarray, str], None],
        on_finished: Callable[[], None],
    ) -> FakeStream:
        if device not in self.devices:
            raise MicrophoneUnavailableError(f"cannot open microphone {device.name!r}: gone")
        for rate in candidate_rates(device):
            if rate in self.refused_rates:
                continue
            stream = FakeStream(device, rate, device.channels, blocksize_s, callback, on_finished)
            self.streams.append(stream)
            return stream
        raise MicrophoneUnavailableError(f"cannot open microphone {device.name!r}: rates refused")
