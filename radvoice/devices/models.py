"""USB vendor/product ids of supported dictation microphones and their report protocol.

Sources: the public layouts used by GoogleChromeLabs/dictation_support (WebHID) for PowerMic III
(``0554:1001``, also reported by PowerMic II units), PowerMic 4 (``0554:0064``) and the
SpeechMike family in HID mode (``0911:0c1c/0c1d/0c1e``; ``0911:0fa0`` in browser mode) on the
vendor usage page ``0xFFA0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

NUANCE = 0x0554
PHILIPS = 0x0911
SPEECHMIKE_USAGE_PAGE = 0xFFA0


class Protocol(StrEnum):
    POWERMIC3 = "powermic3"  # 3+ bytes, buttons as little-endian 16 bits at byte 1
    SPEECHMIKE = "speechmike"  # 9 bytes, byte 0 = 0x80, buttons LE16 at byte 7
    POWERMIC4 = "powermic4"  # SpeechMike framing, PowerMic 4 button bits


@dataclass(frozen=True)
class DeviceModel:
    vendor_id: int
    product_id: int
    name: str
    protocol: Protocol
    usage_page: int | None = None  # the HID interface to open (None: any)


SUPPORTED_MODELS: tuple[DeviceModel, ...] = (
    DeviceModel(NUANCE, 0x1001, "Nuance PowerMic II/III", Protocol.POWERMIC3),
    DeviceModel(NUANCE, 0x0064, "Nuance PowerMic 4", Protocol.POWERMIC4, SPEECHMIKE_USAGE_PAGE),
    DeviceModel(
        PHILIPS, 0x0C1C, "Philips SpeechMike (LFH35xx/36xx, SMP37xx/38xx)", Protocol.SPEECHMIKE,
        SPEECHMIKE_USAGE_PAGE,
    ),
    DeviceModel(
        PHILIPS, 0x0C1D, "Philips SpeechMike Premium Air", Protocol.SPEECHMIKE,
        SPEECHMIKE_USAGE_PAGE,
    ),
    DeviceModel(PHILIPS, 0x0C1E, "Philips SpeechOne", Protocol.SPEECHMIKE, SPEECHMIKE_USAGE_PAGE),
    DeviceModel(
        PHILIPS, 0x0FA0, "Philips SpeechMike (browser mode)", Protocol.SPEECHMIKE,
        SPEECHMIKE_USAGE_PAGE,
    ),
)  # fmt: skip


def find_model(
    vendor_id: int, product_id: int, usage_page: int | None = None
) -> DeviceModel | None:
    """The supported model for this HID interface (None when unsupported or the wrong interface)."""
    for model in SUPPORTED_MODELS:
        if (model.vendor_id, model.product_id) != (vendor_id, product_id):
            continue
        if model.usage_page is not None and usage_page not in (None, 0, model.usage_page):
            continue
        return model
    return None
