"""Configured PACS nodes (DIMSE and/or DICOMweb), kept as JSON in the user's settings folder."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import platformdirs

from radvoice.pacs.errors import NodeConfigError

ENV_VAR = "RADVOICE_PACS_NODES"
DEFAULT_CALLING_AE = "RADVOICE"
_AE_RE = re.compile(r"^[\x20-\x7e]{1,16}$")
_INLINE_RE = re.compile(r"^(?P<ae>[^@\s]{1,16})@(?P<host>[^:\s]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class PacsNode:
    """One PACS: DIMSE (``ae_title``, ``host``, ``port``) and/or DICOMweb (``dicomweb_url``)."""

    name: str
    ae_title: str = ""
    host: str = ""
    port: int = 0
    dicomweb_url: str = ""
    calling_ae: str = DEFAULT_CALLING_AE
    timeout_s: float = 15.0

    @property
    def has_dimse(self) -> bool:
        return bool(self.ae_title and self.host and self.port)

    @property
    def has_web(self) -> bool:
        return bool(self.dicomweb_url)

    def validate(self) -> PacsNode:
        """Raise :class:`NodeConfigError` when the settings cannot work; returns self."""
        if not self.name.strip():
            raise NodeConfigError("a PACS node needs a name")
        if not (self.has_dimse or self.has_web):
            raise NodeConfigError(
                f"PACS node {self.name!r} needs an AE title, host and port, or a DICOMweb URL"
            )
        for ae in (self.ae_title, self.calling_ae):
            if ae and not _AE_RE.match(ae):
                raise NodeConfigError(f"invalid AE title {ae!r} (1-16 printable ASCII characters)")
        if self.port and not 0 < int(self.port) < 65536:
            raise NodeConfigError(f"invalid port {self.port} for PACS node {self.name!r}")
        if self.dicomweb_url and not self.dicomweb_url.startswith(("http://", "https://")):
            raise NodeConfigError(f"DICOMweb URL must start with http:// or https://: {self.dicomweb_url}")
        if self.timeout_s <= 0:
            raise NodeConfigError("timeout must be positive")
        return self

    def describe(self) -> str:
        parts = []
        if self.has_dimse:
            parts.append(f"{self.ae_title}@{self.host}:{self.port}")
        if self.has_web:
            parts.append(self.dicomweb_url)
        return f"{self.name} ({', '.join(parts)})"


def parse_node(text: str) -> PacsNode | None:
    """An inline node: ``AE@host:port`` or a DICOMweb ``http(s)://`` URL; None otherwise."""
    if text.startswith(("http://", "https://")):
        return PacsNode(name=text, dicomweb_url=text.rstrip("/")).validate()
    m = _INLINE_RE.match(text)
    if m:
        return PacsNode(
            name=text, ae_title=m["ae"], host=m["host"], port=int(m["port"])
        ).validate()
    return None


def default_nodes_path() -> Path:
    """``$RADVOICE_PACS_NODES`` or ``~/.config/radvoice/pacs_nodes.json`` (per platform)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir("radvoice", appauthor=False)) / "pacs_nodes.json"


class NodeStore:
    """The configured nodes, in a JSON file (written atomically)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_nodes_path()

    def load(self) -> dict[str, PacsNode]:
        if not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(PacsNode)}
            nodes = [PacsNode(**{k: v for k, v in d.items() if k in known}) for d in raw["nodes"]]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise NodeConfigError(f"unreadable PACS settings {self.path}: {err}") from None
        return {n.name: n for n in nodes}

    def save(self, nodes: dict[str, PacsNode]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"nodes": [asdict(n) for n in nodes.values()]}
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, node: PacsNode) -> None:
        nodes = self.load()
        nodes[node.validate().name] = node
        self.save(nodes)

    def remove(self, name: str) -> None:
        nodes = self.load()
        if name not in nodes:
            raise NodeConfigError(f"no PACS node named {name!r}")
        del nodes[name]
        self.save(nodes)

    def get(self, name: str) -> PacsNode:
        """A configured node by name, or an inline ``AE@host:port`` / URL node."""
        nodes = self.load()
        if name in nodes:
            return nodes[name].validate()
        inline = parse_node(name)
        if inline is not None:
            return inline
        known = ", ".join(sorted(nodes)) or "none configured"
        raise NodeConfigError(f"unknown PACS node {name!r} (known: {known})")
