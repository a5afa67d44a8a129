"""The README's voice screenshots: the heat-map overlay after a spoken question on the sample
case (shipped models), and the "What can I say?" panel.

The question is said by the held-out piper voice and goes through the app's assistant as a
push-to-talk utterance does (streamed chunks, then the release), so the answer, the heat map
and the Whisper transcript are the real ones. Then "jump to finding" puts the crosshair on
the map's maximum and the lung window is applied.

Run: ``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/voice_screenshots.py``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
QUESTION = "Is there a pleural effusion?"


def wait(app, done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--size", default="1600x1000")
    args = parser.parse_args()
    from radvoice.app.assistant.preload import preload_llvm_users

    preload_llvm_users()
    from radvoice.app.assistant import attach_assistant
    from radvoice.app.main import application
    from radvoice.app.main_window import MainWindow
    from radvoice.assistant import load_default_models
    from radvoice.data.tts import synthesize
    from radvoice.data.voices import Voice, piper_voices
    from radvoice.imaging import read_volume, sample_case_path

    app = application()
    win = MainWindow(persist_settings=False)
    win.resize(*(int(v) for v in args.size.split("x")))
    win.show()
    bridge = attach_assistant(win, models=load_default_models(), library=None, first_run=False,
                              precompute_heatmaps=False)  # fmt: skip
    win.set_volume(read_volume(sample_case_path()))
    wait(app, lambda: win.findings.probabilities is not None, 1800, "the findings")

    audio = synthesize(QUESTION, Voice("piper", piper_voices()[0]))

    class Utterance:  # what the talk bridge hands over at key release
        utterance_id = 1
        heard = True

    Utterance.audio = audio
    for start in range(0, audio.size, 1600):
        bridge.engine.push_chunk(1, audio[start : start + 1600], start)
    bridge._on_utterance(Utterance)
    wait(app, lambda: win.heatmap_overlay.shown, 1800, "the heat map")
    wait(app, lambda: bool(win.talk.transcript), 600, "the transcript")
    win.commands.invoke("heatmap.jump")
    win.viewer.apply_preset("lung")
    win.viewer.render_preset = "ct-lung"
    app.processEvents()
    heat = win.save_screenshot(args.out / "heatmap.png")
    dialog = win.voice.show_help()
    dialog.resize(640, 900)
    app.processEvents()
    dialog.grab().save(str(args.out / "what_can_i_say.png"))
    print(f"wrote {heat} and {args.out / 'what_can_i_say.png'}: {win.talk.message!r}, "
          f"{win.talk.transcript!r}")  # fmt: skip
    win.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
