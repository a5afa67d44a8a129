"""Ignore keyboard auto-repeat for a push-to-talk key (Qt-free logic).

On Linux (X11) a held key arrives as repeated release+press pairs flagged ``isAutoRepeat``; some
platforms flag only the presses, and remote sessions may not flag them at all. The filter turns
the raw stream into one press at the start of the hold and one release at its end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class AutoRepeatFilter:
    """Feed raw key events; ``on_press``/``on_release`` fire once per physical hold.

    ``release_grace_s``: with a timer factory given, a release that is not flagged as
    auto-repeat is held back this long and dropped if a press follows (unflagged repeats).
    Without a timer factory, unflagged releases are passed on at once.
    """

    def __init__(
        self,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        release_grace_s: float = 0.0,
        timer_factory: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self._on_press = on_press
        self._on_release = on_release
        self._grace = release_grace_s
        self._timer_factory = timer_factory
        self._held = False
        self._pending: object | None = None
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._held

    def key_press(self, auto_repeat: bool = False) -> None:
        with self._lock:
            if self._pending is not None:
                self._cancel_pending()
                return  # a release followed by a press within the grace time: a repeat
            if self._held or auto_repeat:
                return
            self._held = True
        self._on_press()

    def key_release(self, auto_repeat: bool = False) -> None:
        with self._lock:
            if auto_repeat or not self._held:
                return
            if self._grace > 0 and self._timer_factory is not None:
                if self._pending is None:
                    self._pending = self._timer_factory(self._grace, self._fire_release)
                return
            self._held = False
        self._on_release()

    def reset(self) -> None:
        """Forget a hold without a release event (e.g. the window lost focus: call release)."""
        with self._lock:
            self._cancel_pending()
            was_held, self._held = self._held, False
        if was_held:
            self._on_release()

    def _cancel_pending(self) -> None:
        pending, self._pending = self._pending, None
        cancel = getattr(pending, "cancel", None) or getattr(pending, "stop", None)
        if callable(cancel):
            cancel()

    def _fire_release(self) -> None:
        with self._lock:
            if self._pending is None:
                return
            self._pending = None
            self._held = False
        self._on_release()
