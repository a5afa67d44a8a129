"""``RadVoiceModels``: the one object the library, the CLI and the app ask for embeddings.

Models load lazily, once, from ``models/`` (SHA-256 checked): the teacher (``models/teacher``)
for volumes, text and zero-shot; the speech student (``models/student``) for audio. The GPU is
used when present. Every embedding is an L2-normalised float32 numpy vector (512-d).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from radvoice.errors import RadVoiceError
from radvoice.imaging.volume import Volume
from radvoice.labels import PATHOLOGIES
from radvoice.nn.registry import ModelIntegrityError, models_dir


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class RadVoiceModels:
    """Lazy, thread-safe holder of the teacher and the speech student."""

    def __init__(
        self,
        root: Path | str | None = None,
        device: str | torch.device | None = None,
        teacher: str = "teacher",
        student: str = "student",
    ) -> None:
        self.root = Path(root) if root is not None else models_dir()
        self.device = torch.device(device) if device is not None else default_device()
        self.teacher_dir = self.root / teacher
        self.student_dir = self.root / student
        self._lock = threading.RLock()
        self._bundle = None
        self._student = None
        self._prototypes: torch.Tensor | None = None

    # -- loading ------------------------------------------------------------------------------
    def _teacher(self):  # -> radvoice.nn.clip.TeacherBundle
        with self._lock:
            if self._bundle is None:
                from radvoice.nn.clip import load_teacher

                if not self.teacher_dir.is_dir():
                    raise ModelIntegrityError(f"teacher model not found at {self.teacher_dir}")
                with torch.inference_mode(False):  # weights usable by autograd (Grad-CAM)
                    self._bundle = load_teacher(
                        self.teacher_dir, with_text=True, device=self.device
                    )
            return self._bundle

    def _speech(self):
        with self._lock:
            if self._student is None:
                from radvoice.nn.speech_student import SpeechStudent, check_distilled_from

                if not self.student_dir.is_dir():
                    raise ModelIntegrityError(f"speech model not found at {self.student_dir}")
                student = SpeechStudent.load(self.student_dir, device=str(self.device))
                check_distilled_from(student, self.student_dir, self.teacher_dir)
                self._student = student
            return self._student

    def speech_stream(self):  # -> radvoice.nn.streaming.StreamingSession
        """A push-to-talk session on the same speech student ``embed_audio`` uses: loaded once,
        SHA-256 checked and refused beside a teacher it was not distilled from."""
        return self._speech().stream()

    @property
    def grid(self):  # -> radvoice.nn.grid.ModelGrid
        return self._teacher().clip.dims.grid

    # -- embeddings ---------------------------------------------------------------------------
    @torch.inference_mode()
    def embed_volume(self, volume: Volume) -> np.ndarray:
        from radvoice.nn.grid import resample_to_grid

        bundle = self._teacher()
        grid = resample_to_grid(volume, bundle.clip.dims.grid)[None].to(self.device)
        return bundle.clip.encode_ct(grid)[0].float().cpu().numpy()

    def domain(self, volume: Volume, volume_embedding: np.ndarray | None = None):
        """Can the model speak about ``volume``? A :class:`radvoice.nn.domain.DomainAnswer`:
        a chest CT by its HU image, and how typical its embedding is of the training cases
        (1.0 when the teacher ships no domain statistics)."""
        from radvoice.nn.domain import chest_ct_check, domain_answer

        check = chest_ct_check(volume)
        stats = self._teacher().domain
        score = 1.0
        if stats is not None and check.chest_ct:
            emb = self.embed_volume(volume) if volume_embedding is None else volume_embedding
            score = stats.score(np.asarray(emb, dtype=np.float32))
        return domain_answer(check, score)

    def heatmap(self, volume: Volume, pathology: str) -> np.ndarray:
        """Where the CT model sees ``pathology``: float32 in ``volume.array``'s shape, [0, 1]
        (the dense head of a grounded encoder; Grad-CAM for an encoder without one)."""
        from radvoice.nn.attribution import gradcam_grid, pathology_index
        from radvoice.nn.grid import resample_to_grid
        from radvoice.nn.grid_maps import grid_to_volume

        index = pathology_index(pathology)
        bundle = self._teacher()
        grid = resample_to_grid(volume, bundle.clip.dims.grid)[None].to(self.device)
        encoder = bundle.clip.ct_encoder
        if hasattr(encoder, "dense_probabilities"):
            with torch.inference_mode():
                coarse = encoder.dense_probabilities(grid)[0, index]
        else:
            with self._lock:  # autograd through shared weights: one at a time
                coarse = gradcam_grid(bundle.clip, grid, bundle.prompts, index)
        out = grid_to_volume(coarse.float().cpu().numpy(), volume, bundle.clip.dims.grid)
        return np.clip(out, 0.0, 1.0, out=out)

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts or any(not isinstance(t, str) or not t.strip() for t in texts):
            raise RadVoiceError("text to embed must be non-empty")
        return self._teacher().clip.encode_text(list(texts)).float().cpu().numpy()

    def embed_text(self, text: str) -> np.ndarray:
        return self.embed_texts([text])[0]

    def embed_audio(self, audio: np.ndarray) -> np.ndarray:
        samples = np.asarray(audio, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            raise RadVoiceError("audio to embed is empty")
        return np.asarray(self._speech().embed_audio(samples), dtype=np.float32)

    # -- zero-shot ----------------------------------------------------------------------------
    def zero_shot(self, volume_embedding: np.ndarray) -> dict[str, float]:
        from radvoice.nn.zeroshot import zero_shot_probabilities

        bundle = self._teacher()
        emb = torch.as_tensor(np.asarray(volume_embedding, dtype=np.float32)).reshape(1, -1)
        emb = torch.nn.functional.normalize(emb, dim=-1)
        probs = zero_shot_probabilities(
            emb, bundle.prompts, float(bundle.clip.logit_scale.detach())
        )[0]
        return {name: float(p) for name, p in zip(PATHOLOGIES, probs.tolist(), strict=True)}

    @property
    def thresholds(self) -> dict[str, float]:
        t = self._teacher().thresholds
        return {name: float(v) for name, v in zip(PATHOLOGIES, t, strict=True)}

    def _query_prototypes(self) -> torch.Tensor:
        with self._lock:
            if self._prototypes is None:
                bundle = self._teacher()
                if bundle.query_prototypes is not None:
                    self._prototypes = bundle.query_prototypes.float().cpu()
                else:
                    from radvoice.nn.zeroshot import build_query_prototypes

                    with torch.inference_mode():
                        self._prototypes = build_query_prototypes(bundle.clip.encode_text).cpu()
            return self._prototypes

    def match_query(self, query_embedding: np.ndarray) -> tuple[str, float]:
        from radvoice.nn.zeroshot import match_query

        return match_query(query_embedding, self._query_prototypes())

    def query_scores(self, query_embedding: np.ndarray) -> dict[str, float]:
        from radvoice.nn.zeroshot import query_scores

        return query_scores(query_embedding, self._query_prototypes())
