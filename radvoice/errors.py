"""The base of every error whose message is meant for the user (one line, no traceback)."""


class RadVoiceError(Exception):
    """A user-facing error: ``str(err)`` is a one-line reason. CLIs exit with code 2 on it."""
