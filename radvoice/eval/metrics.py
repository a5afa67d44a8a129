"""Moved to :mod:`radvoice.metrics` (a bottom layer: training uses it too); this name is the same
module, kept for old imports."""

import sys

from radvoice import metrics as _moved

sys.modules[__name__] = _moved
