"""Push-to-talk recorder: a capture thread with pre-roll, tail, maximum length and recovery.

The PortAudio callback only copies each block into a queue. One worker thread does the rest in
order: mono mix, streaming resample to 16 kHz, the pre-roll ring buffer, level metering, the
state machine (idle → listening → finishing → idle; error when the microphone is missing or
lost) and the callbacks. Commands (press, release, cancel) go through the same queue, so a press
takes effect exactly after the blocks that arrived before it.

Callbacks run on the worker thread; a GUI must forward them to its own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from radvoice.audio.backend import InputBackend, InputDevice, InputStreamHandle
from radvoice.audio.errors import AudioError, MicrophoneUnavailableError
from radvoice.audio.levels import (
    CLIP_MIN_SAMPLES,
    Level,
    LevelMeter,
    count_clipped,
    peak,
    rms,
    to_dbfs,
)
from radvoice.audio.loading import to_mono
from radvoice.audio.resampler import StreamResampler
from radvoice.audio.ring import RingBuffer
from radvoice.audio.settings import MicrophoneSettings, choose_device
from radvoice.audio.speech_check import SileroVad, energy_speech_seconds
from radvoice.audio.utterance import (
    AudioChunk,
    EndReason,
    RecorderState,
    TalkMode,
    Utterance,
    Verdict,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
STARTUP_GRACE_S = 5.0  # a fresh stream may take this long to deliver its first block


@dataclass
class RecorderConfig:
    pre_roll_s: float = 0.4  # kept from before the press (≥ 0.3 s)
    tail_s: float = 0.3  # captured after the release (≥ 0.2 s)
    max_length_s: float = 60.0  # from the press; ends the utterance with reason max_length
    min_press_s: float = 0.25  # shorter holds are "too short"
    min_speech_s: float = 0.15  # less speech than this is "nothing heard"
    speech_threshold_dbfs: float = -45.0
    use_silero_vad: bool = False  # also ask silero-vad (after the energy check passed)
    block_s: float = 0.02  # PortAudio block length
    level_hz: float = 25.0  # meter readings per second (≥ 20)
    watchdog_s: float | None = 1.5  # no audio for this long → device lost (None: off)
    retry_s: float = 1.0  # first retry to reopen a missing microphone ...
    max_retry_s: float = 8.0  # ... then backing off to this (a press retries at once)


class _Cmd(Enum):
    PRESS = "press"
    RELEASE = "release"
    CANCEL = "cancel"
    BARRIER = "barrier"
    STOP = "stop"
    REOPEN = "reopen"
    FINISHED = "finished"  # the stream ended by itself


@dataclass
class _Block:
    data: np.ndarray
    status: str
    arrival: float
    generation: int


StateCallback = Callable[[RecorderState, str], None]
LevelCallback = Callable[[Level], None]
ChunkCallback = Callable[[AudioChunk], None]
UtteranceCallback = Callable[[Utterance], None]


class PushToTalkRecorder:
    """Qt-free push-to-talk capture. ``start()``, then ``press()``/``release()`` from any thread."""

    def __init__(
        self,
        backend: InputBackend | None = None,
        config: RecorderConfig | None = None,
        config_dir: str | Path | None = None,
    ) -> None:
        if backend is None:
            from radvoice.audio.backend import SoundDeviceBackend

            backend = SoundDeviceBackend()
        self.backend = backend
        self.config = config or RecorderConfig()
        self.config_dir = config_dir
        self.settings = MicrophoneSettings.load(config_dir)
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state_cbs: list[StateCallback] = []
        self._level_cbs: list[LevelCallback] = []
        self._chunk_cbs: list[ChunkCallback] = []
        self._utt_cbs: list[UtteranceCallback] = []
        self._subscribers: list[queue.Queue[AudioChunk]] = []
        self._state = RecorderState.IDLE
        self._message = "microphone not started"
        self._stream: InputStreamHandle | None = None
        self._generation = 0
        self._utt_id = 0
        self._last_level: Level | None = None
        self._elapsed_samples = 0
        self._listening = False
        self._device_name = ""
        self.cpu_seconds = 0.0  # CPU time used by the worker thread (thread_time)
        self.blocks_processed = 0

    # ---------------------------------------------------------------- registration
    def on_state(self, cb: StateCallback) -> None:
        self._state_cbs.append(cb)

    def on_level(self, cb: LevelCallback) -> None:
        self._level_cbs.append(cb)

    def on_chunk(self, cb: ChunkCallback) -> None:
        self._chunk_cbs.append(cb)

    def on_utterance(self, cb: UtteranceCallback) -> None:
        self._utt_cbs.append(cb)

    def subscribe(self) -> queue.Queue[AudioChunk]:
        """A thread-safe queue that receives every :class:`AudioChunk` (for a streaming encoder)."""
        q: queue.Queue[AudioChunk] = queue.Queue()
        with self._lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[AudioChunk]) -> None:
        with self._lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    # ---------------------------------------------------------------- public state
    @property
    def state(self) -> RecorderState:
        return self._state

    @property
    def message(self) -> str:
        return self._message

    @property
    def mode(self) -> TalkMode:
        return self.settings.mode

    @property
    def elapsed_s(self) -> float:
        """Seconds since the press of the current utterance (0 when idle)."""
        return self._elapsed_samples / SAMPLE_RATE if self._listening else 0.0

    @property
    def last_level(self) -> Level | None:
        return self._last_level

    @property
    def device(self) -> InputDevice | None:
        stream = self._stream
        return stream.device if stream is not None else None

    @property
    def stream_rate(self) -> int | None:
        stream = self._stream
        return stream.samplerate if stream is not None else None

    def devices(self) -> list[InputDevice]:
        """Input devices now present (empty when the audio system is unavailable)."""
        try:
            return self.backend.list_devices()
        except AudioError:
            return []

    # ---------------------------------------------------------------- control
    def start(self) -> None:
        """Open the microphone and start the worker; failures give the error state, not a raise."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="radvoice-capture", daemon=True)
        self._thread.start()
        self._q.put(_Cmd.REOPEN)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the stream and end the worker (an utterance in progress is cancelled)."""
        thread = self._thread
        if thread is None:
            return
        self._q.put(_Cmd.STOP)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> PushToTalkRecorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def press(self) -> None:
        self._q.put(_Cmd.PRESS)

    def release(self) -> None:
        self._q.put(_Cmd.RELEASE)

    def cancel(self) -> None:
        """Drop the utterance in progress (reported with reason ``cancelled``)."""
        self._q.put(_Cmd.CANCEL)

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait until the worker has handled everything queued before this call."""
        done = threading.Event()
        self._q.put((_Cmd.BARRIER, done))
        return done.wait(timeout)

    def set_mode(self, mode: TalkMode) -> None:
        self.settings.mode = TalkMode(mode)
        self._save_settings()

    def select_device(self, name: str | None) -> None:
        """Use the input device called ``name`` (None: the system default), persist, reopen."""
        self.settings.device_name = name
        self._save_settings()
        if self._thread is not None:
            self._q.put(_Cmd.REOPEN)

    def _save_settings(self) -> None:
        try:
            self.settings.save(self.config_dir)
        except OSError as err:
            log.warning("cannot save microphone settings: %s", err)

    # ---------------------------------------------------------------- callbacks out
    def _emit(self, cbs: list[Any], *args: Any) -> None:
        for cb in list(cbs):
            try:
                cb(*args)
            except Exception:  # noqa: BLE001 - a consumer must not kill the capture thread
                log.exception("audio callback %r failed", cb)

    def _set_state(self, state: RecorderState, message: str) -> None:
        changed = state is not self._state or message != self._message
        self._state, self._message = state, message
        if changed:
            self._emit(self._state_cbs, state, message)

    def _push_chunk(self, chunk: AudioChunk) -> None:
        self._emit(self._chunk_cbs, chunk)
        with self._lock:
            subscribers = list(self._subscribers)
        for q in subscribers:
            q.put(chunk)

    # ---------------------------------------------------------------- worker
    def _run(self) -> None:
        cfg = self.config
        self._ring = RingBuffer(int(SAMPLE_RATE * max(cfg.pre_roll_s, 0.05)))
        self._resampler: StreamResampler | None = None
        self._meter: LevelMeter | None = None
        self._opened_at = self._last_block = time.monotonic()
        self._first_block_seen = False
        self._next_retry = 0.0
        self._retry_delay = cfg.retry_s
        self._utt: list[np.ndarray] = []
        self._utt_len = 0
        self._utt_pre = 0
        self._tail_left = 0
        self._ignore_release = False
        self._clipped = False
        self._press_samples = 0
        self._ambient: deque[float] = deque(maxlen=int(2 * cfg.level_hz))  # idle RMS, 2 s
        self._noise_floor: float | None = None
        try:
            while True:
                try:
                    item = self._q.get(timeout=0.05)
                except queue.Empty:
                    item = None
                t0 = time.thread_time()
                if self._handle(item):
                    break
                self._check_stream()
                self.cpu_seconds += time.thread_time() - t0
        finally:
            self._close_stream()

    def _handle(self, item: Any) -> bool:
        """Handle one queue item; True means stop."""
        if isinstance(item, _Block):
            if item.generation == self._generation and self._stream is not None:
                self._on_block(item)
        elif isinstance(item, tuple) and item[0] is _Cmd.BARRIER:
            item[1].set()
        elif item is _Cmd.STOP:
            if self._listening:
                self._finish(EndReason.CANCELLED)
            return True
        elif item is _Cmd.PRESS:
            self._on_press()
        elif item is _Cmd.RELEASE:
            self._on_release()
        elif item is _Cmd.CANCEL:
            if self._listening:
                self._finish(EndReason.CANCELLED)
        elif item is _Cmd.REOPEN:
            self._reopen(refresh=False)
        elif (
            isinstance(item, tuple)
            and item[0] is _Cmd.FINISHED
            and item[1] == self._generation
            and self._stream is not None
        ):
            self._device_lost("the microphone stream stopped")
        return False

    # -- stream management
    def _open_stream(self) -> None:
        devices = self.backend.list_devices()
        device = choose_device(devices, self.settings.device_name)
        self._generation += 1
        generation = self._generation

        def on_block(data: np.ndarray, status: str) -> None:
            now = time.monotonic()
            if generation == self._generation:
                self._last_block = now  # the watchdog looks at arrivals, not processing
                self._first_block_seen = True
            self._q.put(_Block(data, status, now, generation))

        def on_finished() -> None:
            self._q.put((_Cmd.FINISHED, generation))

        stream = self.backend.open(device, self.config.block_s, on_block, on_finished)
        self._stream = stream
        self._device_name = stream.device.name
        self._resampler = StreamResampler(stream.samplerate, SAMPLE_RATE)
        self._meter = LevelMeter(stream.samplerate, self.config.level_hz)
        self._ring.clear()
        self._opened_at = self._last_block = time.monotonic()
        self._first_block_seen = False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._generation += 1  # blocks still queued from the old stream are dropped
        if stream is not None:
            try:
                stream.close()
            except Exception as err:  # noqa: BLE001 - a dead device may fail to close
                log.info("closing the microphone stream failed: %s", err)

    def _reopen(self, refresh: bool) -> bool:
        self._close_stream()
        if refresh:
            self.backend.refresh()
        try:
            self._open_stream()
        except AudioError as err:
            self._schedule_retry()
            self._set_state(RecorderState.ERROR, f"microphone unavailable: {err}")
            return False
        self._retry_delay = self.config.retry_s
        device = self._stream.device if self._stream is not None else None
        name = device.name if device is not None else "?"
        self._set_state(RecorderState.IDLE, f"microphone ready: {name}")
        return True

    def _device_lost(self, why: str) -> None:
        log.warning("microphone lost: %s", why)
        self._close_stream()
        if self._listening:
            self._finish(EndReason.DEVICE_LOST)
        self._schedule_retry()
        self._set_state(RecorderState.ERROR, f"microphone unavailable: {why}")

    def _schedule_retry(self) -> None:
        """Retry after ``retry_s``, doubling up to ``max_retry_s`` while the failures go on."""
        self._next_retry = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, max(self.config.max_retry_s, 0.01))

    def _check_stream(self) -> None:
        now = time.monotonic()
        if self._stream is None:
            if self._thread is not None and now >= self._next_retry:
                self._reopen(refresh=True)
            return
        wd = self.config.watchdog_s
        if wd is None:
            return
        if self._first_block_seen:
            if now - self._last_block > wd:
                self._device_lost(f"no audio for {wd:.1f} s")
        elif now - self._opened_at > max(wd, STARTUP_GRACE_S):
            self._device_lost("the microphone delivers no audio")

    # -- audio path
    def _on_block(self, block: _Block) -> None:
        assert self._resampler is not None and self._meter is not None
        self.blocks_processed += 1
        if block.status:
            log.debug("PortAudio status: %s", block.status)
        mono = to_mono(block.data)
        for level in self._meter.add(mono, block.arrival):
            self._last_level = level
            if not self._listening:
                self._ambient.append(level.rms_dbfs)
            self._emit(self._level_cbs, level)
        if self._listening and not self._clipped:
            self._clipped = count_clipped(mono) >= CLIP_MIN_SAMPLES
        samples = self._resampler.process(mono)
        if samples.size == 0:
            return
        self._ring.write(samples)
        if not self._listening:
            return
        cfg = self.config
        if self._state is RecorderState.FINISHING:
            samples = samples[: self._tail_left]
            self._tail_left -= samples.size
            self._append(samples, block.arrival)
            if self._tail_left <= 0:
                self._finish(EndReason.RELEASED)
            return
        max_samples = int(cfg.max_length_s * SAMPLE_RATE)
        room = max_samples - self._press_samples
        samples = samples[:room]
        self._press_samples += samples.size
        self._elapsed_samples = self._press_samples
        self._append(samples, block.arrival)
        if self._press_samples >= max_samples:
            self._ignore_release = self.settings.mode is TalkMode.HOLD
            self._finish(EndReason.MAX_LENGTH)

    def _append(self, samples: np.ndarray, arrival: float) -> None:
        if samples.size == 0:
            return
        start = self._utt_len
        self._utt.append(samples)
        self._utt_len += samples.size
        self._push_chunk(AudioChunk(self._utt_id, samples, start, arrival=arrival))

    # -- commands
    def _on_press(self) -> None:
        if self._listening:
            if self._state is RecorderState.FINISHING:
                self._finish(EndReason.RELEASED)  # pressed again during the tail
            elif self.settings.mode is TalkMode.TOGGLE:
                self._begin_tail()
                return
            else:
                return  # a second press while held (e.g. two input sources)
        if self._stream is None and not self._reopen(refresh=True):
            return  # stays in the error state with the reason
        self._ignore_release = False
        self._utt_id += 1
        self._utt = []
        self._utt_len = 0
        self._clipped = False
        self._press_samples = 0
        self._elapsed_samples = 0
        self._listening = True
        pre = self._ring.latest(int(self.config.pre_roll_s * SAMPLE_RATE))
        self._utt_pre = pre.size
        self._noise_floor = float(np.percentile(self._ambient, 20)) if self._ambient else None
        self._set_state(RecorderState.LISTENING, "listening")
        self._append(pre, time.monotonic())

    def _on_release(self) -> None:
        if self.settings.mode is TalkMode.TOGGLE:
            return
        if self._ignore_release:
            self._ignore_release = False
            return
        if self._listening and self._state is RecorderState.LISTENING:
            self._begin_tail()

    def _begin_tail(self) -> None:
        self._tail_left = int(self.config.tail_s * SAMPLE_RATE)
        self._set_state(RecorderState.FINISHING, "finishing")
        if self._tail_left <= 0:
            self._finish(EndReason.RELEASED)

    def _finish(self, reason: EndReason) -> None:
        audio = np.concatenate(self._utt) if self._utt else np.zeros(0, np.float32)
        utt_id = self._utt_id
        total = audio.size
        self._push_chunk(AudioChunk(utt_id, np.zeros(0, np.float32), total, final=True))
        self._listening = False
        self._utt = []
        utterance = self._make_utterance(audio, reason)
        self._elapsed_samples = 0
        if self._stream is not None:
            self._set_state(RecorderState.IDLE, utterance.message)
        self._emit(self._utt_cbs, utterance)

    def _make_utterance(self, audio: np.ndarray, reason: EndReason) -> Utterance:
        cfg = self.config
        tail = max(0, audio.size - self._utt_pre - self._press_samples)
        speech_s = energy_speech_seconds(
            audio, SAMPLE_RATE, cfg.speech_threshold_dbfs, self._noise_floor
        )
        if reason is EndReason.CANCELLED:
            verdict = Verdict.SILENCE
        elif self._press_samples < cfg.min_press_s * SAMPLE_RATE:
            verdict = Verdict.TOO_SHORT
        elif speech_s < cfg.min_speech_s:
            verdict = Verdict.SILENCE
        else:
            verdict = Verdict.SPEECH
            if cfg.use_silero_vad and SileroVad.available():
                speech_s = SileroVad.speech_seconds(audio, SAMPLE_RATE)
                if speech_s < cfg.min_speech_s:
                    verdict = Verdict.SILENCE
        return Utterance(
            utterance_id=self._utt_id,
            audio=audio,
            sample_rate=SAMPLE_RATE,
            reason=reason,
            verdict=verdict,
            pre_roll_s=self._utt_pre / SAMPLE_RATE,
            tail_s=tail / SAMPLE_RATE,
            peak_dbfs=to_dbfs(peak(audio)),
            rms_dbfs=to_dbfs(rms(audio)),
            clipped=self._clipped,
            speech_s=speech_s,
            device=self._device_name,
        )


__all__ = ["MicrophoneUnavailableError", "PushToTalkRecorder", "RecorderConfig"]
