"""User-facing audio errors (one line each)."""

from radvoice.errors import RadVoiceError


class AudioError(RadVoiceError):
    """Base class of audio errors: ``str(err)`` is a one-line reason."""


class AudioReadError(AudioError):
    """A file cannot be read as audio."""


class MicrophoneUnavailableError(AudioError):
    """No usable input device, or it refused every sample rate we tried."""
