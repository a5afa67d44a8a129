"""Moved to :mod:`radvoice.voice_catalog` (a bottom layer: the model, training and evaluation
use the catalogue too); this name is the same module, kept for the assistant and old imports."""

import sys

from radvoice import voice_catalog as _moved

sys.modules[__name__] = _moved
