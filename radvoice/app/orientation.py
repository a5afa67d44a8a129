"""Moved to :mod:`radvoice.components.orientation`; this name is the same module (kept for old imports)."""

import sys

from radvoice.components import orientation as _moved

sys.modules[__name__] = _moved
