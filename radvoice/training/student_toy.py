"""Moved to :mod:`radvoice.testing.student_corpus` (test tooling); this name is the same module,
kept for old imports."""

import sys

from radvoice.testing import student_corpus as _moved

sys.modules[__name__] = _moved
