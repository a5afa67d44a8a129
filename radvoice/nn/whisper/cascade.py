"""ASR cascade baseline: ctranslate2 Whisper transcribes, the text teacher embeds the transcript.

Decoding follows faster-whisper: the log-mel of the audio padded with 30 s of zeros, cut into
30 s segments (3000 frames) that are decoded in turn without timestamps, greedy by default.
The prompt is ``<|startoftranscript|>[<|en|><|transcribe|>]<|notimestamps|>`` (language and task
tokens only for multilingual models).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radvoice.nn.streaming import MIN_SAMPLES, as_mono_float
from radvoice.nn.whisper.model import WhisperModelError

SEGMENT_FRAMES = 3000
SEGMENT_SAMPLES = 480_000


@dataclass(frozen=True)
class CascadeResult:
    """A transcript, its text embedding (when an embedder is given) and the time each step took."""

    text: str
    embedding: np.ndarray | None
    transcribe_ms: float
    embed_ms: float


class AsrCascade:
    """Whisper (ctranslate2) → text → ``embed_text`` (the teacher's text encoder).

    ``embed_text`` is e.g. ``RadVoiceModels().embed_text``; then :meth:`embed_audio` stands in
    for the speech student in evaluations.
    """

    def __init__(
        self,
        size: str | None = "tiny.en",
        ct2_dir: Path | None = None,
        compute_type: str = "int8",
        beam_size: int = 1,
        threads: int = 0,
        embed_text: Callable[[str], np.ndarray] | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        from radvoice.nn.whisper.convert import package_model_dir
        from radvoice.nn.whisper.ct2_runtime import load_ct2_whisper

        if ct2_dir is not None:
            size = None
        self.model = load_ct2_whisper(size, ct2_dir, compute_type=compute_type, threads=threads)
        folder = Path(ct2_dir) if ct2_dir is not None else package_model_dir(size)  # type: ignore[arg-type]
        tok_file = folder / "tokenizer.json"
        if not tok_file.is_file():
            raise WhisperModelError(f"{folder}: no tokenizer.json for decoding transcripts")
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        self.beam_size = beam_size
        self.embed_text = embed_text
        self.prompt = ["<|startoftranscript|>"]
        if self.model.is_multilingual:
            self.prompt += ["<|en|>", "<|transcribe|>"]
        self.prompt.append("<|notimestamps|>")

    def segments(self, audio: np.ndarray) -> list[np.ndarray]:
        """Whisper's padded 30 s log-mel segments ``(n_mels, 3000)`` of ``audio``."""
        from radvoice.audio.mel import log_mel_spectrogram

        audio = as_mono_float(audio)
        if len(audio) < MIN_SAMPLES:
            raise WhisperModelError("audio too short to transcribe")
        mel = log_mel_spectrogram(audio, n_mels=self.model.n_mels, padding=SEGMENT_SAMPLES).numpy()
        n_content = len(audio) // 160
        return [
            np.ascontiguousarray(mel[:, s : s + SEGMENT_FRAMES])
            for s in range(0, n_content, SEGMENT_FRAMES)
        ]

    def transcribe(self, audio: np.ndarray) -> str:
        """The transcript of 16 kHz mono ``audio``."""
        import ctranslate2

        texts = []
        for seg in self.segments(audio):
            if seg.shape[-1] < SEGMENT_FRAMES:
                seg = np.pad(
                    seg, ((0, 0), (0, SEGMENT_FRAMES - seg.shape[-1])), constant_values=seg.min()
                )
            features = ctranslate2.StorageView.from_array(seg[None])
            result = self.model.generate(
                features, [self.prompt], beam_size=self.beam_size, max_length=448
            )[0]
            texts.append(self.tokenizer.decode(result.sequences_ids[0], skip_special_tokens=True))
        return " ".join(t.strip() for t in texts if t.strip())

    def run(self, audio: np.ndarray) -> CascadeResult:
        """Transcribe then embed (``embedding`` is None without ``embed_text``), timing both."""
        t0 = time.perf_counter()
        text = self.transcribe(audio)
        t1 = time.perf_counter()
        embedding = None if self.embed_text is None else np.asarray(self.embed_text(text))
        t2 = time.perf_counter()
        return CascadeResult(text, embedding, (t1 - t0) * 1e3, (t2 - t1) * 1e3)

    def embed_audio(self, audio: np.ndarray) -> np.ndarray:
        """The cascade as a speech embedder (same call as ``RadVoiceModels.embed_audio``)."""
        if self.embed_text is None:
            raise WhisperModelError("the ASR cascade needs embed_text to embed audio")
        text = self.transcribe(audio)
        return np.asarray(self.embed_text(text if text.strip() else "."), dtype=np.float32)
