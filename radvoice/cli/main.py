"""``radvoice`` entry point: the GUI with no arguments, sub-commands otherwise.

Sub-commands are discovered from the modules of :mod:`radvoice.cli`: each module that defines
``register(subparsers)`` adds its parsers and sets ``func`` (a callable taking the parsed
namespace and returning an exit code). Heavy imports (torch, Qt, VTK) happen inside ``func``.
Exit code 2 with a one-line message is the contract for unreadable input.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import radvoice
import radvoice.cli as cli_pkg
from radvoice.errors import RadVoiceError


class UserError(RadVoiceError):
    """An error whose message is shown to the user as is (one line), exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="radvoice", description="Talk to a chest CT. With no sub-command, opens the viewer."
    )
    parser.add_argument("--version", action="version", version=f"radvoice {radvoice.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui = sub.add_parser("gui", help="open the viewer (the default)")
    gui.add_argument("path", nargs="?", help="a volume file or DICOM folder to open")
    gui.set_defaults(func=_run_gui)
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in ("main", "__init__"):
            continue
        module = importlib.import_module(f"radvoice.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from radvoice.app.main import run_app

    return run_app(getattr(args, "path", None))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        argv = ["gui"]
    elif argv[0] not in parser._subparsers._group_actions[0].choices and not argv[0].startswith("-"):  # type: ignore[union-attr]
        argv = ["gui", *argv]  # `radvoice scan.nii.gz` opens that file
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except RadVoiceError as err:
        print(f"radvoice: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
