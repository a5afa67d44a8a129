"""The assistant engine (no Qt): models off the GUI thread, results into the app's states.

* :meth:`Assistant.volume_opened` — CT embedding + zero-shot probabilities on the CT worker →
  :class:`FindingsState`.
* :meth:`Assistant.push_chunk` (audio thread, while the key is held) and
  :meth:`Assistant.finish_utterance` (key release) — the speech worker streams the chunks into
  the student, so only the last chunk is encoded at release; the embedding is then classified
  as a query (findings re-ranked, asked pathology first) or a report/finding (similar priors
  from the case library → :class:`PriorsState`).
* :meth:`Assistant.similar_to_volume` — priors for the open CT itself.

Workers are single-threaded executors; torch runs with ``torch_threads`` threads in them (1 by
default: on a busy 2-core CPU two OpenMP threads made the speech path 5x slower). Results from
a superseded volume are dropped. :meth:`shutdown` stops and joins both workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from radvoice.assistant.intent import (
    TYPED_WORDS_PER_SECOND,
    Intent,
    IntentKind,
    IntentRules,
    classify_intent,
    text_question_probability,
)
from radvoice.assistant.models import AssistantModels, ModelsMissing
from radvoice.assistant.priors import prior_results
from radvoice.assistant.speech import (
    SpeechStream,
    as_vector,
    open_speech_stream,
    question_probability,
)
from radvoice.components.state import FindingsState, PriorsState, TalkPhase, TalkState
from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume

log = logging.getLogger(__name__)

NO_MODEL = "No model loaded"
SAMPLE_RATE = 16000


@dataclass
class AssistantConfig:
    rules: IntentRules = field(default_factory=IntentRules)
    top_k: int = 8
    search_space: str = "both"  # utterances: report and CT embeddings
    torch_threads: int | None = 1  # None: leave torch's setting alone


@dataclass
class Answer:
    """What the last utterance (or typed text) did; for the GUI and tests."""

    intent: Intent
    source: str  # "speech" or "text"
    seconds: float  # key release (or request) → answer
    embedding: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.float32))


class Assistant:
    """One per window. Methods may be called from any thread; work runs on the two workers."""

    def __init__(
        self,
        findings: FindingsState,
        priors: PriorsState,
        talk: TalkState | None = None,
        models: AssistantModels | ModelsMissing | None = None,
        library=None,  # radvoice.library.CaseLibrary | None
        library_problem: str = "",
        config: AssistantConfig | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self.findings = findings
        self.priors = priors
        self.talk = talk
        self.config = config or AssistantConfig()
        self.on_answer = on_answer
        self._lock = threading.RLock()
        self._closed = False
        self._ct_pool = self._pool("radvoice-ct")
        self._speech_pool = self._pool("radvoice-speech")
        self._futures: set[Future] = set()
        self.models: AssistantModels | None = None
        self.models_problem = "no models given"
        self._stream: SpeechStream | None = None
        self._stream_utt: int | None = None
        self._stream_broken = False
        self._stream_error = ""
        self._gen = 0
        self._volume: Volume | None = None
        self._embedding: np.ndarray | None = None
        self._probs: dict[str, float] | None = None
        self._out_of_domain = ""  # why the open volume gets no findings (not a chest CT...)
        self._thresholds: dict[str, float] = {}
        self._queried: str | None = None
        self._also: tuple[str, ...] = ()  # near-tie alternatives of the queried label
        self._pending_query = False
        self.last_answer: Answer | None = None
        self.library = None
        self.set_models(models)
        self.set_library(library, library_problem)

    # -- setup --------------------------------------------------------------------------------
    def _pool(self, name: str) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(1, thread_name_prefix=name, initializer=self._init_worker)

    def _init_worker(self) -> None:
        if self.config.torch_threads is not None:
            import torch

            torch.set_num_threads(int(self.config.torch_threads))

    @property
    def has_models(self) -> bool:
        return self.models is not None

    def set_models(self, models: AssistantModels | ModelsMissing | None) -> None:
        """Use these models (or show why there are none); the open CT is analysed again."""
        with self._lock:
            if isinstance(models, ModelsMissing) or models is None:
                self.models = None
                self.models_problem = models.reason if models is not None else "no models given"
            else:
                self.models, self.models_problem = models, ""
            self._stream, self._stream_utt, self._stream_error = None, None, ""
        if self.models is None:
            self.findings.clear(f"{NO_MODEL} — {self.models_problem}")
        elif self._volume is not None:
            self.volume_opened(self._volume)
        else:
            self.findings.clear(f"Model ready — open a CT to see the 18 findings{self._device()}")

    def set_library(self, library, problem: str = "") -> None:
        """Search this :class:`CaseLibrary` (None: show ``problem`` in the priors panel)."""
        with self._lock:
            old, self.library = self.library, library
        if old is not None and old is not library:
            self._submit(self._ct_pool, old.close)
        if library is None:
            self.priors.clear(f"No case library — {problem or 'Library > Case Library…'}")
        else:
            self.priors.clear(
                f"Library {library.directory} — ask about a finding, or Library > "
                "Similar to This CT"
            )

    def _device(self) -> str:
        device = getattr(self.models, "device", None)
        return f" (on {device})" if device is not None and str(device) != "cpu" else ""

    # -- work submission ----------------------------------------------------------------------
    def _submit(self, pool: ThreadPoolExecutor, fn: Callable, *args) -> Future | None:
        with self._lock:
            if self._closed:
                return None
            future = pool.submit(self._guard, fn, *args)
            self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def _guard(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except RadVoiceError as err:
            self._say(str(err).splitlines()[0], error=True)
        except Exception:  # noqa: BLE001 - a worker must never die silently
            log.exception("assistant task %s failed", getattr(fn, "__name__", fn))
            self._say("Something went wrong in the assistant (see the log)", error=True)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until both workers have finished what was submitted so far (tests, CLI)."""
        deadline = time.monotonic() + timeout
        for pool in (self._ct_pool, self._speech_pool, self._ct_pool):
            future = self._submit(pool, lambda: None)
            if future is None:
                return True
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return False
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Stop both workers (queued work is cancelled, running work finishes). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._gen += 1
        for pool in (self._ct_pool, self._speech_pool):
            pool.shutdown(wait=wait, cancel_futures=True)
        if self.library is not None:
            self.library.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the open CT --------------------------------------------------------------------------
    def volume_opened(self, volume: Volume | None) -> None:
        """A new CT is shown: compute its findings in the background (None clears them)."""
        with self._lock:
            self._gen += 1
            gen = self._gen
            self._volume, self._embedding, self._probs = volume, None, None
            self._out_of_domain = ""
            if not self._pending_query:  # a question asked before any answer waits for one
                self._queried, self._also = None, ()
        if volume is None:
            self.findings.clear(
                f"{NO_MODEL} — {self.models_problem}" if self.models is None else "Open a CT"
            )
            return
        if self.models is None:
            self.findings.clear(f"{NO_MODEL} — {self.models_problem}")
            return
        self.findings.clear(f"Analysing this CT{self._device()}…")
        self._submit(self._ct_pool, self._analyse, gen, volume)

    def _current(self, gen: int) -> bool:
        return gen == self._gen and not self._closed

    def _analyse(self, gen: int, volume: Volume) -> None:
        models = self.models
        if models is None or not self._current(gen):
            return
        t0 = time.perf_counter()
        try:
            embedding = np.asarray(models.embed_volume(volume), dtype=np.float32)
            domain = models.domain(volume, embedding) if hasattr(models, "domain") else None
            probs = models.zero_shot(embedding)
            thresholds = models.thresholds
        except RadVoiceError as err:
            if self._current(gen):
                self.findings.clear(f"No findings for this CT — {str(err).splitlines()[0]}")
            return
        elapsed = time.perf_counter() - t0
        if domain is not None and not domain.ok:
            with self._lock:
                if not self._current(gen):
                    return
                self._embedding, self._out_of_domain = embedding, domain.message
            log.info("no findings for %s: %s", volume.describe(), domain.message)
            self.findings.clear(f"No findings called — {domain.message}")
            return
        with self._lock:
            if not self._current(gen):
                return
            self._embedding, self._probs, self._thresholds = embedding, probs, thresholds
            queried, self._pending_query = self._queried, False
        log.info("zero-shot findings for %s in %.2f s", volume.describe(), elapsed)
        self._show_findings(queried, f"Zero-shot findings ({elapsed:.1f} s) — ask about one")

    def _show_findings(self, queried: str | None, status: str) -> None:
        with self._lock:
            probs, thresholds, also = self._probs, self._thresholds, self._also
        if probs is None:
            return
        self.findings.set_results(probs, thresholds, queried, status, also if queried else ())

    # -- speech -------------------------------------------------------------------------------
    def push_chunk(self, utterance_id: int, samples: np.ndarray, start: int) -> None:
        """16 kHz samples of utterance ``utterance_id`` from sample ``start`` (any thread)."""
        if self.models is None:
            return
        data = np.array(samples, dtype=np.float32, copy=True).reshape(-1)
        self._submit(self._speech_pool, self._push, int(utterance_id), data, int(start))

    def _speech_stream(self) -> SpeechStream:
        """The speech model's streaming session, loaded once (a failure is kept, not retried)."""
        if self._stream_error:
            raise RadVoiceError(self._stream_error)
        if self._stream is None:
            try:
                self._stream = open_speech_stream(self.models)  # type: ignore[arg-type]
            except RadVoiceError as err:
                self._stream_error = f"speech model unavailable: {str(err).splitlines()[0]}"
                raise RadVoiceError(self._stream_error) from None
        return self._stream

    def _push(self, utterance_id: int, samples: np.ndarray, start: int) -> None:
        try:
            stream = self._speech_stream()
        except RadVoiceError:
            return  # reported once, at key release
        if utterance_id != self._stream_utt:
            stream.reset()
            self._stream_utt, self._stream_broken = utterance_id, False
        if self._stream_broken:
            return
        if start != stream.n_samples:  # a gap or overlap: re-encode the whole at release
            self._stream_broken = True
            return
        if samples.size:
            stream.push(samples)

    def finish_utterance(self, utterance_id: int, audio: np.ndarray, heard: bool = True) -> None:
        """Key release: ``audio`` is the whole utterance (16 kHz). Not heard → just forget it."""
        if self.models is None:
            if heard and self.talk is not None:
                self.talk.set_message(f"{NO_MODEL} — {self.models_problem}")
            return
        data = np.asarray(audio, dtype=np.float32).reshape(-1)
        self._submit(self._speech_pool, self._finish, int(utterance_id), data, bool(heard))

    def _finish(self, utterance_id: int, audio: np.ndarray, heard: bool) -> None:
        stream = self._speech_stream()
        t0 = time.perf_counter()
        try:
            if not heard:
                return
            self._say("Thinking…", phase=TalkPhase.THINKING)
            if (
                utterance_id != self._stream_utt
                or self._stream_broken
                or stream.n_samples > audio.size
            ):
                stream.reset()
                stream.push(audio)
            elif audio.size > stream.n_samples:
                stream.push(audio[stream.n_samples :])
            embedding = as_vector(stream.finish())
            question = question_probability(stream)
        except RadVoiceError as err:
            self._say(f"Could not understand that: {str(err).splitlines()[0]}", error=True)
            return
        finally:
            stream.reset()
            self._stream_utt, self._stream_broken = None, False
        self._answer(embedding, audio.size / SAMPLE_RATE, "speech", t0, question)

    def ask_text(self, text: str) -> None:
        """A typed question or finding, handled like a spoken one (text teacher embedding)."""
        if not text.strip():
            raise RadVoiceError("the question is empty")
        if self.models is None:
            raise RadVoiceError(f"{NO_MODEL} — {self.models_problem}")
        self._submit(self._speech_pool, self._ask_text, text.strip())

    def _ask_text(self, text: str) -> None:
        t0 = time.perf_counter()
        try:
            embedding = as_vector(self.models.embed_text(text))  # type: ignore[union-attr]
        except RadVoiceError as err:
            self._say(f"Could not embed that text: {err}", error=True)
            return
        seconds = len(text.split()) / TYPED_WORDS_PER_SECOND
        self._answer(embedding, seconds, "text", t0, text_question_probability(text))

    def _answer(
        self,
        embedding: np.ndarray,
        duration_s: float,
        source: str,
        t0: float,
        question: float | None = None,
    ) -> None:
        models = self.models
        if models is None:
            return
        intent = classify_intent(models, embedding, duration_s, self.config.rules, question)
        if intent.kind is IntentKind.QUERY:
            self._answer_query(intent)
        else:
            self._answer_report(embedding, intent)
        answer = Answer(intent, source, time.perf_counter() - t0, embedding)
        self.last_answer = answer
        if self.on_answer is not None:
            self.on_answer(answer)

    def _answer_query(self, intent: Intent) -> None:
        with self._lock:
            self._queried = intent.label
            self._also = tuple(label for label, _ in intent.alternatives)
            probs = self._probs
            self._pending_query = probs is None
        if probs is None and self._out_of_domain:
            self._say(f"Asked about {intent.label} — {self._out_of_domain}")
            return
        if probs is None:
            waiting = "open a CT" if self._volume is None else "the CT is being analysed"
            self.findings.set_status(f"Asked about {intent.label} — {waiting}")
            self._say(f"Asked about {intent.label} — {waiting}")
            return
        p = probs[intent.label]
        thr = self._thresholds.get(intent.label)
        verdict = (
            "" if thr is None else (" (above threshold)" if p >= thr else " (below threshold)")
        )
        asked = f"You asked about {intent.label} (match {intent.score:.2f})"
        if intent.alternatives:
            near = ", ".join(f"{k} ({s:.2f})" for k, s in intent.alternatives)
            asked += f" — or {near}? Shown next."
        self._show_findings(intent.label, asked)
        also = "".join(f"; or {k}: {probs[k]:.2f}" for k, _ in intent.alternatives)
        self._say(f"{intent.label}: {p:.2f}{verdict}{also}")

    def _answer_report(self, embedding: np.ndarray, intent: Intent) -> None:
        library = self.library
        if library is None:
            self._say("Heard a finding — no case library to search (Library > Case Library…)")
            return
        self._search(library, embedding, self.config.search_space, "this finding")

    def _search(self, library, embedding: np.ndarray, space: str, what: str) -> None:
        from radvoice.library.embedder import model_identity

        try:
            library.check_model(model_identity(self.models))
            hits = library.search_vector(embedding, self.config.top_k, space)
            rows = prior_results(library, hits)
        except RadVoiceError as err:
            message = str(err).splitlines()[0]
            self.priors.clear(f"No priors — {message}")
            self._say(f"Library search failed: {message}", error=True)
            return
        self.priors.set_results(rows, f"{len(rows)} prior cases similar to {what}")
        self._say(f"Found {len(rows)} similar prior cases")

    # -- priors for the open CT ----------------------------------------------------------------
    def similar_to_volume(self) -> None:
        """Priors similar to the open CT (CT embedding space)."""
        if self.models is None:
            raise RadVoiceError(f"{NO_MODEL} — {self.models_problem}")
        if self.library is None:
            raise RadVoiceError("no case library is open (Library > Case Library…)")
        with self._lock:
            volume, gen = self._volume, self._gen
        if volume is None:
            raise RadVoiceError("open a CT first")
        self.priors.set_status("Searching the library for cases like this CT…")
        self._submit(self._ct_pool, self._similar, gen, volume)

    def _similar(self, gen: int, volume: Volume) -> None:
        with self._lock:
            embedding = self._embedding if gen == self._gen else None
        if embedding is None:
            try:
                embedding = np.asarray(self.models.embed_volume(volume), dtype=np.float32)  # type: ignore[union-attr]
            except RadVoiceError as err:
                self.priors.clear(f"No priors — {str(err).splitlines()[0]}")
                return
        if self._current(gen) and self.library is not None:
            self._search(self.library, embedding, "ct", "this CT")

    # -- talk messages ------------------------------------------------------------------------
    def _say(self, message: str, error: bool = False, phase: TalkPhase = TalkPhase.IDLE) -> None:
        if self.talk is None or self._closed:
            return
        if error:
            self.talk.fail(message)
        else:
            self.talk.set_phase(phase, message)
