"""Refuse a volume that would not fit in memory, before any pixel data is read."""

from __future__ import annotations

from pathlib import Path

from radvoice.imaging.errors import TooLargeError

WORKING_COPIES = 2.0
"""Bytes needed per byte of the final int16 array: the array itself plus one working copy
(a per-slice conversion buffer, a dropped-slice compaction, the viewer's VTK import)."""


def available_memory() -> int | None:
    """Bytes the kernel can hand out now (``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or unsupported platform
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KB'`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def check_fits(needed: int, what: str, max_bytes: int | None = None) -> None:
    """Raise :class:`TooLargeError` if ``needed`` bytes exceed ``max_bytes`` or free memory."""
    if max_bytes is not None and needed > max_bytes:
        raise TooLargeError(
            f"{what} needs about {format_bytes(needed)} but the limit is {format_bytes(max_bytes)}"
        )
    avail = available_memory()
    if avail is not None and needed > avail:
        raise TooLargeError(
            f"{what} needs about {format_bytes(needed)} but only {format_bytes(avail)} "
            "of memory is available"
        )


def estimate_bytes(n_voxels: int, source_itemsize: int = 2) -> int:
    """Peak bytes to load ``n_voxels`` into an int16 array from ``source_itemsize``-byte pixels."""
    result = n_voxels * 2
    extra = n_voxels * source_itemsize if source_itemsize != 2 else 0
    return int(result * WORKING_COPIES + extra)
