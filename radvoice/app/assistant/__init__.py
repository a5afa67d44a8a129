"""The assistant in the app: findings, spoken questions, priors, the library dialog, comparison.

The names load on first use, so that ``radvoice.app.assistant.preload`` stays light (the app
imports it before its window exists; the bridge pulls in torch).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AssistantBridge", "attach_assistant"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from radvoice.app.assistant import bridge

        return getattr(bridge, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
