"""Load the models' parts in the background, in the order the app needs them (no Qt).

On a 2-core CPU the first findings waited for the whole teacher with its text encoder
(transformers + MiniLM, seconds) and the first question for the speech student. The warm-up
thread loads the CT teacher first, waits until the CT worker is idle (the open CT's findings
come first), then the speech student (with a first-call warm-up pass), then the text encoder. (Not at a
lower priority: a typed question waits on the text encoder's load, and under load a niced
thread starved for minutes.) Each part reports ``on_part(part, problem)`` ("" when loaded).
Only models with a ``preload(part)`` method (:class:`radvoice.nn.pipeline.RadVoiceModels`)
are warmed up; the others load lazily as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)
PARTS = ("ct", "speech", "text")
JOIN_TIMEOUT_S = 5.0


class ModelWarmup:
    """One background thread per set of models; :meth:`stop` ends it after the current part."""

    def __init__(
        self,
        models,
        wait_ct_idle: Callable[[], None],
        on_part: Callable[[str, str], None],
        torch_threads: int | None = 1,
    ) -> None:
        self.models = models
        self._wait_ct_idle = wait_ct_idle
        self._on_part = on_part
        self._torch_threads = torch_threads
        self._stop = threading.Event()
        self.done: dict[str, str] = {}
        self.thread = threading.Thread(target=self._run, name="radvoice-warmup", daemon=True)

    @staticmethod
    def supported(models) -> bool:
        return callable(getattr(models, "preload", None))

    def start(self) -> ModelWarmup:
        self.thread.start()
        return self

    def stop(self, wait: bool = True, timeout: float = JOIN_TIMEOUT_S) -> None:
        """No further part starts; ``wait`` joins the thread for at most ``timeout`` s (a part
        being loaded cannot be interrupted; the thread is a daemon)."""
        self._stop.set()
        if wait and self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout)
            if self.thread.is_alive():
                log.info("model warm-up still loading at shutdown; not waiting for it")

    def _run(self) -> None:
        if self._torch_threads is not None:
            import torch

            torch.set_num_threads(int(self._torch_threads))
        for part in PARTS:
            if self._stop.is_set():
                return
            if part == "speech":
                self._wait_ct_idle()
            if self._stop.is_set():
                return
            self.done[part] = self._load(part)
            self._on_part(part, self.done[part])

    def _load(self, part: str) -> str:
        try:
            self.models.preload(part)
        except RadVoiceError as err:
            return str(err).splitlines()[0] or type(err).__name__
        except Exception as err:  # noqa: BLE001 - the app stays up; the part fails when used
            log.exception("loading the %s model failed", part)
            return f"could not be loaded ({type(err).__name__})"
        return ""
