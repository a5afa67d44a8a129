"""Dynamic int8 quantisation of a speech student's Whisper encoder (CPU inference only).

Only the encoder's ``nn.Linear`` layers are quantised (int8 weights, activations quantised on
the fly per batch); its convolutions, layer norms and the pooling heads stay float32. The
weights on disk are unchanged: quantisation is applied after the SHA-256-checked load. Measured
speed and accuracy (held-out voices) in docs/notes/perf.md, ``bench/speech_quant.py``.
"""

from __future__ import annotations

import logging
import os
import warnings

import torch
from torch import nn

log = logging.getLogger(__name__)
PRECISIONS = ("float32", "int8")
ENV_VAR = "RADVOICE_SPEECH_PRECISION"
DEFAULT_PRECISION = "int8"


def speech_precision(requested: str | None = None) -> str:
    """``requested`` > ``$RADVOICE_SPEECH_PRECISION`` > the default; unknown names → default."""
    value = (requested or os.environ.get(ENV_VAR, "") or DEFAULT_PRECISION).strip().lower()
    if value not in PRECISIONS:
        log.warning("unknown speech precision %r: using %s", value, DEFAULT_PRECISION)
        return DEFAULT_PRECISION
    return value


def quantize_linear_int8(module: nn.Module) -> nn.Module:
    """``module`` with every ``nn.Linear`` replaced by a dynamic int8 one (a new module).

    Returns ``module`` itself, unchanged, when this torch build has no quantised CPU engine.
    """
    engines = torch.backends.quantized.supported_engines
    if not any(e in engines for e in ("x86", "fbgemm", "qnnpack", "onednn")):
        log.warning("no quantised CPU engine in this torch build: the encoder stays float32")
        return module
    with warnings.catch_warnings():  # torch.ao's API is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=torch.qint8)


def quantize_student(student, precision: str) -> None:
    """Quantise ``student.encoder`` in place for ``precision`` "int8" (CPU only; a no-op for
    "float32", for a student on a GPU, or for an encoder with layers being fine-tuned)."""
    if precision != "int8":
        return
    device = next(student.encoder.parameters()).device
    if device.type != "cpu" or student.config.train_top_layers or student.training:
        return
    student.encoder = quantize_linear_int8(student.encoder)
    student.precision = "int8"
