"""``radvoice screenshot VOLUME --out PNG``: render the viewer on a volume and save the window.

Needs a display; headless: ``xvfb-run -a -s "-screen 0 1600x1000x24" radvoice screenshot ...``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radvoice.errors import RadVoiceError

PRESETS = ("lung", "mediastinum", "bone", "brain", "header")
RENDER_PRESETS = ("ct-bone", "ct-lung", "soft-tissue", "mip")


def parse_size(text: str) -> tuple[int, int]:
    """'1600x1000' -> (1600, 1000); anything else is a user error."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise RadVoiceError(f"--size must look like 1600x1000, got {text!r}") from None
    if not (320 <= w <= 8192 and 240 <= h <= 8192):
        raise RadVoiceError(f"--size {text}: width 320-8192 and height 240-8192 pixels")
    return w, h


def parse_cursor(text: str, size_xyz: tuple[int, int, int]) -> tuple[int, int, int]:
    """'I,J,K' voxel indices, or fractions of the size when all values are in [0, 1)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise RadVoiceError(f"--cursor must be I,J,K (e.g. 120,256,24), got {text!r}")
    if all(0.0 <= v < 1.0 for v in values) and any(v != int(v) for v in values):
        values = [v * (n - 1) for v, n in zip(values, size_xyz, strict=True)]
    ijk = tuple(int(round(v)) for v in values)
    if any(not (0 <= v < n) for v, n in zip(ijk, size_xyz, strict=True)):
        raise RadVoiceError(f"--cursor {text}: outside the volume of size {size_xyz}")
    return ijk  # type: ignore[return-value]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "screenshot", help="render the viewer on a volume and save a PNG of the window"
    )
    p.add_argument("volume", help="a volume file or DICOM folder")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--preset", choices=PRESETS, default="lung", help="window/level preset")
    p.add_argument(
        "--render", choices=RENDER_PRESETS, default=None, help="3D preset (default: by --preset)"
    )
    p.add_argument(
        "--cursor",
        default=None,
        help="crosshair voxel index I,J,K or fractions like 0.3,0.5,0.5 "
        "(default: through a lung when one is found, else the centre)",
    )
    p.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise RadVoiceError(f"{out}: the screenshot is written as PNG; use a .png name")
    if not out.parent.exists():
        raise RadVoiceError(f"{out.parent}: no such folder")
    if not Path(args.volume).exists():
        raise RadVoiceError(f"{args.volume}: no such file or folder")
    from radvoice.app.main import application
    from radvoice.imaging import read_volume

    volume = read_volume(args.volume)
    if args.cursor:
        cursor = parse_cursor(args.cursor, volume.size_xyz)
    else:
        from radvoice.imaging.landmarks import lung_crosshair

        cursor = lung_crosshair(volume)
    render = args.render or ("ct-lung" if args.preset == "lung" else "ct-bone")
    app = application()
    from radvoice.app.main_window import MainWindow

    window = MainWindow(persist_settings=False)
    try:
        window.resize(*size)
        window.show()
        app.processEvents()
        window.viewer.apply_preset(args.preset)
        window.viewer.render_preset = render
        window.set_volume(volume)
        if cursor is not None:
            window.viewer.cursor = cursor
        app.processEvents()
        window.render_now()
        window.save_screenshot(out)
    finally:
        window.close()
        window.shutdown()
    print(f"wrote {out} ({size[0]}x{size[1]}, {volume.describe()})")
    return 0
