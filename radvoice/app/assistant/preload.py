"""Load the model stack's own LLVM before any OpenGL context exists.

Mesa's software renderer (llvmpipe, also radeonsi) loads its LLVM into the process at the first
VTK render. Importing ``triton`` after that (torch._dynamo imports it when transformers loads the
text encoder) segfaults inside ``libtriton``'s LLVM initialisation; importing it first is fine
(reproduced under Xvfb: render → ``import triton`` crashes, ``import triton`` → render works).
The test suite calls :func:`preload_llvm_users` before the window opens (≈0.5 s). The app
itself never compiles kernels, so ``run_app`` calls :func:`block_llvm_users` instead: those
packages then count as not installed (torch and transformers check with ``find_spec``), which
avoids both the crash and the import time at start-up. No Qt here.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

log = logging.getLogger(__name__)
LLVM_PACKAGES = ("triton",)


def preload_llvm_users() -> list[str]:
    """Import the installed packages that bundle LLVM; returns the names imported."""
    loaded = []
    for name in LLVM_PACKAGES:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - a broken optional package must not stop the app
            log.warning("could not preload %s (%s)", name, type(err).__name__)
        else:
            loaded.append(name)
    return loaded


def block_llvm_users() -> list[str]:
    """Make the LLVM-bundling packages unimportable in this process (those not yet imported);
    returns the names blocked."""
    blocked = []
    for name in LLVM_PACKAGES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # import → ImportError
            blocked.append(name)
    return blocked
