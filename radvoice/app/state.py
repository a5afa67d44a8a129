"""Moved to :mod:`radvoice.components.state`; this name is the same module (kept for old imports)."""

import sys

from radvoice.components import state as _moved

sys.modules[__name__] = _moved
