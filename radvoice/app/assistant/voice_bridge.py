"""The assistant's voice extras in the window: commands, "show me" heat maps, what was heard.

* the engine's command handler → :class:`~radvoice.app.voice_controller.VoiceController`
  (GUI thread), with the voice settings mirrored into the engine's config;
* a question's answer → the asked pathology's heat map (:class:`HeatmapService`, cached per
  volume and pathology, precomputed for the open CT once its findings are in);
* after each spoken answer, the utterance is transcribed by the Whisper ASR path in the
  background (:class:`Transcriber`) → "heard: …" beneath the answer;
* commands ``priors.show`` (similar cases for the open CT) and ``priors.compare`` (the top
  prior beside the current case).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from radvoice.app.qt_bridge import GuiListener
from radvoice.app.voice_actions import VoiceSettings
from radvoice.assistant.heatmaps import Compute, HeatmapService, default_compute
from radvoice.assistant.transcript import Transcribe, Transcriber
from radvoice.commands import Command
from radvoice.errors import RadVoiceError

log = logging.getLogger(__name__)
DEFAULT: Any = object()


class VoiceBridge(QObject):
    """One per :class:`AssistantBridge` (``bridge.voice``)."""

    heatmap_requested = Signal(str)  # the pathology whose map was asked for

    def __init__(
        self,
        bridge,
        heatmap_compute: Compute | Any | None = DEFAULT,  # not callable: the shipped models'
        transcribe: Transcribe | Any | None = DEFAULT,  # not callable: Whisper tiny.en
        precompute: bool = True,
    ) -> None:
        super().__init__(bridge)
        self.bridge = bridge
        self.window = window = bridge.window
        self.engine = engine = bridge.engine
        self.closed = False
        self.precompute = precompute
        self._pending_audio: tuple[int, np.ndarray] | None = None
        self._compare_pending = False

        self.heatmaps: HeatmapService | None = None
        if heatmap_compute is not None and not callable(heatmap_compute):  # the default
            heatmap_compute = default_compute(engine.models) if engine.has_models else None
        if heatmap_compute is not None:
            torch_threads = getattr(engine.config, "torch_threads", 1)
            self.heatmaps = HeatmapService(window.heatmap, heatmap_compute,
                                           torch_threads=torch_threads)  # fmt: skip
        self.transcriber: Transcriber | None = None
        if transcribe is not None and engine.has_models:
            self.transcriber = Transcriber(
                window.talk, transcribe if callable(transcribe) else None
            )
        voice = window.voice
        if hasattr(engine, "set_command_handler"):
            engine.set_command_handler(voice.handler)
        voice.settings_changed.connect(self.apply_settings)
        self.apply_settings(voice.settings)
        voice.actions.add_provider("comparison", self._comparison_open, self._restore_comparison)

        self._findings = GuiListener(window.findings.events.probabilities, self._on_findings, self)
        self._priors = GuiListener(window.priors.events.results, self._on_priors, self)
        self._register_commands()
        if window.viewer.volume is not None:
            self.volume_opened(window.viewer.volume)

    # -- settings -------------------------------------------------------------------------------
    def apply_settings(self, vs: VoiceSettings) -> None:
        """Voice commands on/off and their threshold go to the engine; transcript on/off."""
        config = self.engine.config
        if hasattr(config, "voice_commands"):
            config.voice_commands = bool(vs.enabled)
        if hasattr(config, "command_threshold"):
            config.command_threshold = float(vs.threshold)
        if self.transcriber is not None:
            self.transcriber.enabled = bool(vs.transcript)

    # -- events from the assistant bridge (GUI thread) ------------------------------------------
    def volume_opened(self, volume) -> None:
        if self.heatmaps is not None and not self.closed:
            self.heatmaps.volume_opened(volume)

    def utterance_finished(self, utterance) -> None:
        """Keep the audio of a heard utterance until its answer is out."""
        if utterance.heard:
            audio = np.asarray(utterance.audio, dtype=np.float32).reshape(-1)
            self._pending_audio = (int(utterance.utterance_id), audio)

    def answered(self, answer) -> None:
        """After the answer: the asked pathology's heat map, then the transcript."""
        if self.closed:
            return
        intent = answer.intent
        if intent.kind.value == "query":
            self.show_heatmap(intent.label)
        if answer.source == "speech" and self._pending_audio is not None:
            utt, audio = self._pending_audio
            self._pending_audio = None
            if self.transcriber is not None:
                self.transcriber.submit(utt, audio)

    def show_heatmap(self, pathology: str) -> bool:
        """Show ``pathology``'s map (True when it was cached and is shown already)."""
        if self.heatmaps is None:
            self.window.heatmap.fail("Heat maps need the trained models")
            return False
        self.heatmap_requested.emit(pathology)
        return self.heatmaps.request(pathology)

    def _on_findings(self, probabilities) -> None:
        """The open CT's findings are in: precompute its heat maps, most likely first."""
        if self.closed or not probabilities or self.heatmaps is None or not self.precompute:
            return
        order = sorted(probabilities, key=lambda k: -probabilities[k])
        self.heatmaps.precompute(order)

    # -- priors ---------------------------------------------------------------------------------
    def _register_commands(self) -> None:
        reg = self.window.commands
        for cmd in (
            Command("priors.show", "Show Similar Prior Cases", self.show_priors, "Shift+P",
                    category="Library", tooltip="Similar cases for the open CT"),
            Command("priors.compare", "Compare with Top Prior", self.compare_top_prior,
                    "Ctrl+Alt+P", category="Library",
                    tooltip="Open the most similar prior beside the current case"),
        ):  # fmt: skip
            if cmd.name not in reg:
                reg.register(cmd)
        menu = self.window.findChild(QObject, "libraryMenu")
        if menu is not None:
            self.window.binder.fill_menu(menu, [None, "priors.show", "priors.compare"])

    def show_priors(self) -> None:
        self.bridge.similar_to_volume()
        dock = self.window.docks.get("priors")
        if dock is not None:
            dock.show()
            dock.raise_()

    def compare_top_prior(self) -> None:
        """The top prior of the list (searched first when the list is empty) beside the CT."""
        results = self.window.priors.results
        if results:
            self.bridge.open_prior(results[0])
            return
        self._compare_pending = True
        try:
            self.show_priors()
        except RadVoiceError:
            self._compare_pending = False
            raise

    def _on_priors(self, results) -> None:
        if self._compare_pending and results and not self.closed:
            self._compare_pending = False
            self.bridge.open_prior(results[0])

    def _comparison_open(self) -> bool:
        dock = self.bridge.comparison
        return dock is not None and dock.isVisible()

    def _restore_comparison(self, was_open: bool) -> None:
        self._compare_pending = False
        if not was_open:
            self.bridge.close_comparison()

    # -- teardown -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._findings.detach()
        self._priors.detach()
        if hasattr(self.engine, "set_command_handler"):
            self.engine.set_command_handler(None)
        if self.heatmaps is not None:
            self.heatmaps.shutdown()
        if self.transcriber is not None:
            self.transcriber.shutdown()
