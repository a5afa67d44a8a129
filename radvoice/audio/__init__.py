"""Audio: file loading, Whisper's log-mel front end and push-to-talk capture (no Qt)."""

from radvoice.audio.autorepeat import AutoRepeatFilter
from radvoice.audio.errors import AudioError, AudioReadError, MicrophoneUnavailableError
from radvoice.audio.levels import Level
from radvoice.audio.loading import SAMPLE_RATE, load_audio
from radvoice.audio.mel import log_mel_spectrogram, mel_filters
from radvoice.audio.recorder import PushToTalkRecorder, RecorderConfig
from radvoice.audio.streaming_mel import StreamingLogMel
from radvoice.audio.utterance import (
    AudioChunk,
    EndReason,
    RecorderState,
    TalkMode,
    Utterance,
    Verdict,
)

__all__ = [
    "SAMPLE_RATE",
    "AudioChunk",
    "AudioError",
    "AudioReadError",
    "AutoRepeatFilter",
    "EndReason",
    "Level",
    "MicrophoneUnavailableError",
    "PushToTalkRecorder",
    "RecorderConfig",
    "RecorderState",
    "StreamingLogMel",
    "TalkMode",
    "Utterance",
    "Verdict",
    "load_audio",
    "log_mel_spectrogram",
    "mel_filters",
]
