"""Qt-free application state: what the views show, with events they listen to.

* :class:`ViewerState` - the volume, the crosshair (voxel index), window/level and presets.
* :class:`FindingsState` - zero-shot probabilities of the 18 CT-RATE labels (or None).
* :class:`PriorsState` - similar prior cases from the local library.
* :class:`TalkState` - the push-to-talk state machine and level meter.

Each object has ``events`` (an :class:`~radvoice.components.events.EmitterGroup`): one emitter per
field plus ``changed``. Setting a field to an equal value emits nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from radvoice.components.events import EmitterGroup
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES

# Window/level presets: name -> (width, level) in HU.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (1500.0, -600.0),
    "mediastinum": (400.0, 40.0),
    "bone": (2500.0, 480.0),
    "brain": (80.0, 40.0),
}
WINDOW_PRESET_TITLES = {
    "lung": "Lung",
    "mediastinum": "Mediastinum",
    "bone": "Bone",
    "brain": "Brain",
    "header": "Header default",
}
HEADER_PRESET = "header"
DEFAULT_WINDOW = WINDOW_PRESETS["mediastinum"]

RENDER_PRESETS: tuple[str, ...] = ("ct-bone", "ct-lung", "soft-tissue", "mip")
RENDER_PRESET_TITLES = {
    "ct-bone": "CT bone",
    "ct-lung": "CT lung",
    "soft-tissue": "Soft tissue",
    "mip": "MIP",
}
VIEW_NAMES: tuple[str, ...] = ("volume", "axial", "coronal", "sagittal")


def header_window(volume: Volume) -> tuple[float, float]:
    """The header's (width, level), else the 1st-99th percentile range of the voxels."""
    win = volume.default_window()
    if win is not None and win[0] > 0:
        return win
    sample = volume.array[:: max(1, volume.shape[0] // 16), ::4, ::4]
    lo, hi = np.percentile(sample, [1.0, 99.0])
    width = max(float(hi - lo), 1.0)
    return width, float(lo + hi) / 2.0


class _State:
    """Base: ``_set`` stores a field and emits its event when the value changed."""

    events: EmitterGroup

    def _set(self, name: str, value: Any) -> bool:
        old = getattr(self, f"_{name}")
        if _equal(old, value):
            return False
        setattr(self, f"_{name}", value)
        self.events.emit(name, value)
        return True


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, Volume) or isinstance(b, Volume):
        return False
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


class ViewerState(_State):
    """The loaded volume and how it is shown."""

    def __init__(self) -> None:
        self.events = EmitterGroup(
            "volume",
            "cursor",
            "window",
            "preset",
            "render_preset",
            "crosshair_visible",
            "maximized",
            "show_patient_info",
            "active_view",
        )
        self._volume: Volume | None = None
        self._cursor: tuple[int, int, int] = (0, 0, 0)
        self._window: tuple[float, float] = DEFAULT_WINDOW
        self._preset: str | None = "mediastinum"
        self._render_preset: str = "ct-bone"
        self._crosshair_visible = True
        self._maximized: str | None = None
        self._show_patient_info = False
        self._active_view = "axial"

    # volume ---------------------------------------------------------------------------------
    @property
    def volume(self) -> Volume | None:
        return self._volume

    def set_volume(self, volume: Volume | None) -> None:
        """Show a new volume: the cursor goes to its centre; the W/L preset is re-applied."""
        self._volume = volume
        if volume is not None:
            nx, ny, nz = volume.size_xyz
            self._cursor = (nx // 2, ny // 2, nz // 2)
            if self._preset == HEADER_PRESET:
                self._window = header_window(volume)
        self.events.emit("volume", volume)
        self.events.emit("cursor", self._cursor)
        self.events.emit("window", self._window)

    # cursor ---------------------------------------------------------------------------------
    @property
    def cursor(self) -> tuple[int, int, int]:
        """Crosshair position as a voxel index ``(i, j, k)`` of :attr:`volume`."""
        return self._cursor

    @cursor.setter
    def cursor(self, ijk: tuple[int, int, int]) -> None:
        self._set("cursor", self.clamp_index(ijk))

    def clamp_index(self, ijk: tuple[float, float, float]) -> tuple[int, int, int]:
        vals = [int(round(float(v))) for v in ijk]
        if len(vals) != 3:
            raise ValueError(f"a voxel index has 3 values, got {ijk!r}")
        if self._volume is None:
            return tuple(vals)  # type: ignore[return-value]
        size = self._volume.size_xyz
        return tuple(min(max(v, 0), n - 1) for v, n in zip(vals, size, strict=True))  # type: ignore[return-value]

    def cursor_lps(self) -> np.ndarray | None:
        """LPS position (mm) of the cursor voxel, or None without a volume."""
        if self._volume is None:
            return None
        return self._volume.index_to_lps(self._cursor)

    def hu_at_cursor(self) -> int | None:
        if self._volume is None:
            return None
        return self._volume.hu_at(*self._cursor)

    # window/level -----------------------------------------------------------------------------
    @property
    def window(self) -> tuple[float, float]:
        """``(width, level)`` in HU."""
        return self._window

    @window.setter
    def window(self, wl: tuple[float, float]) -> None:
        width, level = float(wl[0]), float(wl[1])
        if not (math.isfinite(width) and math.isfinite(level)):
            raise ValueError(f"window/level must be finite, got {wl!r}")
        if self._set("window", (max(width, 1.0), level)):
            match = [n for n, v in WINDOW_PRESETS.items() if v == self._window]
            self._set("preset", match[0] if match else None)

    @property
    def preset(self) -> str | None:
        """The active W/L preset name, None after a manual adjustment."""
        return self._preset

    def apply_preset(self, name: str) -> None:
        if name == HEADER_PRESET:
            wl = header_window(self._volume) if self._volume is not None else DEFAULT_WINDOW
        elif name in WINDOW_PRESETS:
            wl = WINDOW_PRESETS[name]
        else:
            raise ValueError(f"unknown window preset {name!r}")
        self._set("window", (max(float(wl[0]), 1.0), float(wl[1])))
        self._set("preset", name)

    # rendering ------------------------------------------------------------------------------
    @property
    def render_preset(self) -> str:
        return self._render_preset

    @render_preset.setter
    def render_preset(self, name: str) -> None:
        if name not in RENDER_PRESETS:
            raise ValueError(f"unknown volume-rendering preset {name!r}")
        self._set("render_preset", name)

    @property
    def crosshair_visible(self) -> bool:
        return self._crosshair_visible

    @crosshair_visible.setter
    def crosshair_visible(self, visible: bool) -> None:
        self._set("crosshair_visible", bool(visible))

    @property
    def maximized(self) -> str | None:
        """The view shown alone (one of :data:`VIEW_NAMES`), or None for the 2x2 layout."""
        return self._maximized

    @maximized.setter
    def maximized(self, view: str | None) -> None:
        if view is not None and view not in VIEW_NAMES:
            raise ValueError(f"unknown view {view!r}")
        self._set("maximized", view)

    def toggle_maximized(self, view: str) -> None:
        self.maximized = None if self._maximized == view else view

    @property
    def show_patient_info(self) -> bool:
        return self._show_patient_info

    @show_patient_info.setter
    def show_patient_info(self, show: bool) -> None:
        self._set("show_patient_info", bool(show))

    @property
    def active_view(self) -> str:
        """The slice view that next/previous slice commands act on."""
        return self._active_view

    @active_view.setter
    def active_view(self, view: str) -> None:
        if view not in VIEW_NAMES:
            raise ValueError(f"unknown view {view!r}")
        self._set("active_view", view)


NO_MODEL_STATUS = "No model loaded — findings appear here after you ask a question"


class FindingsState(_State):
    """Zero-shot probabilities for the CT-RATE labels; None until a model has answered."""

    def __init__(self) -> None:
        self.events = EmitterGroup(
            "probabilities", "thresholds", "queried_label", "alternatives", "status"
        )
        self._probabilities: dict[str, float] | None = None
        self._thresholds: dict[str, float] = {}
        self._queried_label: str | None = None
        self._alternatives: tuple[str, ...] = ()
        self._status = NO_MODEL_STATUS

    @property
    def probabilities(self) -> dict[str, float] | None:
        return None if self._probabilities is None else dict(self._probabilities)

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self._thresholds)

    @property
    def queried_label(self) -> str | None:
        return self._queried_label

    @property
    def alternatives(self) -> tuple[str, ...]:
        """Labels the question matched almost as well as the queried one (shown next)."""
        return self._alternatives

    @property
    def status(self) -> str:
        return self._status

    def set_results(
        self,
        probabilities: dict[str, float],
        thresholds: dict[str, float] | None = None,
        queried_label: str | None = None,
        status: str = "",
        alternatives: Sequence[str] = (),
    ) -> None:
        """Show a model's answer. Labels must be CT-RATE labels, probabilities in [0, 1];
        ``alternatives`` (near ties of the question) need a queried label."""
        probs = {str(k): float(v) for k, v in probabilities.items()}
        _check_labels(probs, "probability")
        thr = {str(k): float(v) for k, v in (thresholds or {}).items()}
        _check_labels(thr, "threshold")
        if queried_label is not None and queried_label not in PATHOLOGIES:
            raise ValueError(f"unknown CT-RATE label {queried_label!r}")
        also = tuple(str(a) for a in alternatives)
        if also and queried_label is None:
            raise ValueError("alternatives need a queried label")
        bad = [a for a in also if a not in PATHOLOGIES or a == queried_label]
        if bad or len(set(also)) != len(also):
            raise ValueError(f"bad alternative labels {list(also)!r}")
        self._set("thresholds", thr)
        self._set("queried_label", queried_label)
        self._set("alternatives", also)
        self._set("probabilities", probs)
        self._set("status", status)

    def clear(self, status: str = NO_MODEL_STATUS) -> None:
        self._set("probabilities", None)
        self._set("queried_label", None)
        self._set("alternatives", ())
        self._set("status", status)

    def set_status(self, status: str) -> None:
        self._set("status", status)


def _check_labels(values: dict[str, float], what: str) -> None:
    for label, v in values.items():
        if label not in PATHOLOGIES:
            raise ValueError(f"unknown CT-RATE label {label!r}")
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"{what} of {label!r} must be in [0, 1], got {v}")


@dataclass(frozen=True)
class PriorResult:
    """One similar prior case from the local library."""

    case_id: str
    score: float
    labels: tuple[str, ...] = ()
    report_snippet: str = ""
    thumbnail_png: bytes | None = None
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


NO_LIBRARY_STATUS = "No case library loaded — similar prior cases appear here after a query"


class PriorsState(_State):
    """Retrieved prior cases, best first."""

    def __init__(self) -> None:
        self.events = EmitterGroup("results", "status")
        self._results: tuple[PriorResult, ...] = ()
        self._status = NO_LIBRARY_STATUS

    @property
    def results(self) -> tuple[PriorResult, ...]:
        return self._results

    @property
    def status(self) -> str:
        return self._status

    def set_results(self, results: list[PriorResult] | tuple[PriorResult, ...], status: str = ""):
        items = tuple(results)
        for r in items:
            if not isinstance(r, PriorResult):
                raise TypeError(f"priors must be PriorResult, got {type(r).__name__}")
        self._set("results", tuple(sorted(items, key=lambda r: -r.score)))
        self._set("status", status)

    def clear(self, status: str = NO_LIBRARY_STATUS) -> None:
        self._set("results", ())
        self._set("status", status)

    def set_status(self, status: str) -> None:
        self._set("status", status)


class TalkPhase(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    ERROR = "error"


SILENCE_DBFS = -120.0


class TalkState(_State):
    """Push-to-talk: phase, live input level (dBFS), elapsed seconds, the last message and
    the transcript of the last utterance."""

    def __init__(self) -> None:
        self.events = EmitterGroup(
            "phase", "level_dbfs", "peak_dbfs", "elapsed_s", "message", "transcript"
        )
        self._phase = TalkPhase.IDLE
        self._level_dbfs = SILENCE_DBFS
        self._peak_dbfs = SILENCE_DBFS
        self._elapsed_s = 0.0
        self._message = "Hold the talk button (or Space) and ask a question"
        self._transcript = ""

    @property
    def phase(self) -> TalkPhase:
        return self._phase

    @property
    def level_dbfs(self) -> float:
        return self._level_dbfs

    @property
    def peak_dbfs(self) -> float:
        return self._peak_dbfs

    @property
    def elapsed_s(self) -> float:
        return self._elapsed_s

    @property
    def message(self) -> str:
        return self._message

    @property
    def transcript(self) -> str:
        """What the ASR heard in the last utterance (shown beneath the answer), or ''."""
        return self._transcript

    def set_transcript(self, text: str) -> None:
        self._set("transcript", str(text))

    def set_phase(self, phase: TalkPhase | str, message: str | None = None) -> None:
        """Change phase; entering LISTENING resets the meter and the clock."""
        phase = TalkPhase(phase)
        if phase is TalkPhase.LISTENING and self._phase is not TalkPhase.LISTENING:
            self._set("elapsed_s", 0.0)
            self._set("level_dbfs", SILENCE_DBFS)
            self._set("peak_dbfs", SILENCE_DBFS)
            self._set("transcript", "")
        self._set("phase", phase)
        if message is not None:
            self._set("message", message)

    def update_level(self, level_dbfs: float, peak_dbfs: float | None = None, elapsed_s=None):
        """Live meter update (any thread). Values are clamped to [-120, 0] dBFS."""
        self._set("level_dbfs", _clamp_db(level_dbfs))
        if peak_dbfs is not None:
            self._set("peak_dbfs", _clamp_db(peak_dbfs))
        if elapsed_s is not None:
            self._set("elapsed_s", max(0.0, float(elapsed_s)))

    def set_message(self, message: str) -> None:
        self._set("message", message)

    def fail(self, message: str) -> None:
        """Enter the error phase with a one-line reason."""
        self.set_phase(TalkPhase.ERROR, message)


def _clamp_db(v: float) -> float:
    v = float(v)
    if math.isnan(v):
        return SILENCE_DBFS
    return min(max(v, SILENCE_DBFS), 0.0)
