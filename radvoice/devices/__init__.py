"""Dictation microphones (Nuance PowerMic, Philips SpeechMike) over USB HID: buttons → commands.

Qt-free. :class:`DictationMicPoller` finds supported devices with ``hidapi`` and turns their
button reports into press/release events mapped to command names (record → ``talk.push``).
"""

from radvoice.devices.buttons import DEFAULT_COMMANDS, Button, ButtonEvent
from radvoice.devices.models import SUPPORTED_MODELS, DeviceModel, Protocol, find_model
from radvoice.devices.poller import CommandEvent, DictationMicPoller
from radvoice.devices.reports import ButtonDecoder, decode_buttons

__all__ = [
    "DEFAULT_COMMANDS",
    "SUPPORTED_MODELS",
    "Button",
    "ButtonDecoder",
    "ButtonEvent",
    "CommandEvent",
    "DeviceModel",
    "DictationMicPoller",
    "Protocol",
    "decode_buttons",
    "find_model",
]
