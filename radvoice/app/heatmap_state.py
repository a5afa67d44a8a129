"""Moved to :mod:`radvoice.components.heatmap_state`; this name is the same module."""

import sys

from radvoice.components import heatmap_state as _moved

sys.modules[__name__] = _moved
