"""Moved to :mod:`radvoice.components.events`; this name is the same module (kept for old imports)."""

import sys

from radvoice.components import events as _moved

sys.modules[__name__] = _moved
