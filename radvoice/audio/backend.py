"""Input stream backends: the protocol the recorder uses and its sounddevice/PortAudio version."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from radvoice.audio.errors import MicrophoneUnavailableError

log = logging.getLogger(__name__)

# Rates tried after the device's own default, in order, when the device refuses a rate.
FALLBACK_RATES: tuple[int, ...] = (48_000, 44_100, 16_000, 32_000, 22_050, 96_000, 8_000)

# callback(block (frames, channels) float32, status text ("" when fine))
BlockCallback = Callable[[np.ndarray, str], None]


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    hostapi: str
    channels: int
    default_rate: int
    is_default: bool = False


class InputStreamHandle(Protocol):
    samplerate: int
    channels: int
    device: InputDevice

    @property
    def active(self) -> bool: ...

    def close(self) -> None: ...


class InputBackend(Protocol):
    def list_devices(self) -> list[InputDevice]: ...

    def refresh(self) -> None:
        """Re-scan devices (after a device was unplugged or plugged in)."""

    def open(
        self,
        device: InputDevice,
        blocksize_s: float,
        callback: BlockCallback,
        on_finished: Callable[[], None],
    ) -> InputStreamHandle:
        """Open and start a stream; raise :class:`MicrophoneUnavailableError` on failure."""


def candidate_rates(device: InputDevice) -> list[int]:
    rates = [int(device.default_rate)] if device.default_rate > 0 else []
    return rates + [r for r in FALLBACK_RATES if r not in rates]


class _SoundDeviceStream:
    def __init__(self, stream: Any, device: InputDevice, rate: int, channels: int) -> None:
        self._stream = stream
        self.device = device
        self.samplerate = rate
        self.channels = channels

    @property
    def active(self) -> bool:
        return bool(self._stream.active)

    def close(self) -> None:
        try:
            self._stream.abort(ignore_errors=True)
        finally:
            self._stream.close(ignore_errors=True)


class SoundDeviceBackend:
    """PortAudio through :mod:`sounddevice` (imported lazily: the app starts without it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @staticmethod
    def _sd() -> Any:
        try:
            import sounddevice as sd
        except OSError as err:  # PortAudio library missing
            raise MicrophoneUnavailableError(f"audio system unavailable: {err}") from None
        return sd

    def list_devices(self) -> list[InputDevice]:
        sd = self._sd()
        with self._lock:
            try:
                devices = sd.query_devices()
                hostapis = sd.query_hostapis()
                default_in = sd.default.device[0]
            except sd.PortAudioError as err:
                raise MicrophoneUnavailableError(f"cannot list microphones: {err}") from None
        if default_in is None or default_in < 0:
            for api in hostapis:
                if api.get("default_input_device", -1) >= 0:
                    default_in = api["default_input_device"]
                    break
        result = []
        for info in devices:
            if info["max_input_channels"] <= 0:
                continue
            result.append(
                InputDevice(
                    index=int(info["index"]),
                    name=str(info["name"]),
                    hostapi=str(hostapis[info["hostapi"]]["name"]),
                    channels=int(info["max_input_channels"]),
                    default_rate=int(info["default_samplerate"]),
                    is_default=int(info["index"]) == default_in,
                )
            )
        return result

    def refresh(self) -> None:
        """Re-initialise PortAudio so that its device list is current (no stream may be open)."""
        sd = self._sd()
        with self._lock:
            with contextlib.suppress(Exception):  # already terminated
                sd._terminate()
            try:
                sd._initialize()
            except Exception as err:  # noqa: BLE001
                log.warning("PortAudio re-initialisation failed: %s", err)

    def open(
        self,
        device: InputDevice,
        blocksize_s: float,
        callback: BlockCallback,
        on_finished: Callable[[], None],
    ) -> _SoundDeviceStream:
        sd = self._sd()
        channels = max(1, min(2, device.channels))

        def _callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            callback(indata.copy(), str(status) if status else "")

        errors: list[str] = []
        for rate in candidate_rates(device):
            stream = None
            try:
                with self._lock:
                    stream = sd.InputStream(
                        device=device.index,
                        channels=channels,
                        samplerate=rate,
                        dtype="float32",
                        blocksize=max(1, int(round(rate * blocksize_s))),
                        latency="low",
                        callback=_callback,
                        finished_callback=on_finished,
                    )
                    stream.start()
            except (sd.PortAudioError, ValueError) as err:
                errors.append(f"{rate} Hz: {str(err).splitlines()[0]}")
                if stream is not None:
                    stream.close(ignore_errors=True)
                continue
            if rate != device.default_rate:
                log.info("microphone %s opened at %d Hz (fallback)", device.name, rate)
            return _SoundDeviceStream(stream, device, rate, channels)
        raise MicrophoneUnavailableError(
            f"cannot open microphone {device.name!r}: {errors[0] if errors else 'no sample rate'}"
        )
