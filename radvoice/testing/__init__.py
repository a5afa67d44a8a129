"""Test tooling for RadVoice's own test suite and for code built on it: a pytest plugin
(:mod:`radvoice.testing.plugin`, loaded by ``tests/conftest.py``) with the ``real_ct_dir`` and
``make_main_window`` fixtures, and the Qt leak check behind the latter
(:mod:`radvoice.testing.qt_leaks`). Not imported by the application."""
