"""What was heard: the Whisper ASR path transcribes an utterance in the background (no Qt).

The answer never waits for it: the app submits an utterance only once its answer (or voice
command) is out, and the transcript lands in :attr:`TalkState.transcript` ("heard: …" beneath
the answer). One worker thread; the ctranslate2 Whisper model (:class:`AsrCascade`) is loaded
on first use. A transcript of an utterance that a newer one superseded is dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from radvoice.components.state import TalkState
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)

Transcribe = Callable[[np.ndarray], str]
DEFAULT_WHISPER = "tiny.en"


def whisper_transcriber(size: str = DEFAULT_WHISPER, threads: int = 1) -> Transcribe:
    """The ASR cascade's Whisper (ctranslate2, int8, CPU), loaded at the first call."""
    model = None
    lock = threading.Lock()

    def transcribe(audio: np.ndarray) -> str:
        nonlocal model
        with lock:
            if model is None:
                from radvoice.nn.whisper.cascade import AsrCascade

                model = AsrCascade(size, threads=threads)
        return model.transcribe(audio)

    return transcribe


class Transcriber:
    """Transcribes utterances one at a time into ``talk.transcript``."""

    def __init__(
        self,
        talk: TalkState,
        transcribe: Transcribe | None = None,
        on_text: Callable[[int, str], None] | None = None,
    ) -> None:
        self.talk = talk
        self.transcribe = transcribe if transcribe is not None else whisper_transcriber()
        self.on_text = on_text
        self.enabled = True
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="radvoice-asr")
        self._lock = threading.Lock()
        self._latest = 0
        self._closed = False
        self.last_seconds: float | None = None

    def submit(self, utterance_id: int, audio: np.ndarray) -> Future | None:
        """Transcribe ``audio`` (16 kHz mono) in the background; None when off or closed."""
        with self._lock:
            if self._closed or not self.enabled:
                return None
            self._latest = max(self._latest, int(utterance_id))
            data = np.asarray(audio, dtype=np.float32).reshape(-1).copy()
            return self._pool.submit(self._run, int(utterance_id), data)

    def _run(self, utterance_id: int, audio: np.ndarray) -> str | None:
        if utterance_id < self._latest or self._closed:
            return None
        t0 = time.perf_counter()
        try:
            text = self.transcribe(audio).strip()
        except RadVoiceError as err:
            log.info("no transcript: %s", str(err).splitlines()[0])
            text, shown = "", f"heard: (no transcript — {str(err).splitlines()[0]})"
        except Exception:  # noqa: BLE001 - the worker must stay up
            log.exception("transcription failed")
            return None
        else:
            shown = f"heard: “{text}”" if text else "heard: (nothing recognised)"
        self.last_seconds = time.perf_counter() - t0
        with self._lock:
            if utterance_id < self._latest or self._closed:
                return None
        self.talk.set_transcript(shown)
        if self.on_text is not None:
            self.on_text(utterance_id, text)
        return text

    def shutdown(self) -> None:
        """Cancel queued work and join the worker (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
