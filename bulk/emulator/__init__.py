"""The built-in emulator of the RunGen.AI app API: a test double of the server."""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

from ._faults import Faults, Record  # light: no library of its own

if TYPE_CHECKING:
    from ._app import make_app, serve
    from ._background import Emulator
    from ._server import Server

# The server's names load aiohttp: on first use, so that the command line's help (which
# names the faults) starts at once.
_HOME = {"make_app": "._app", "serve": "._app", "Emulator": "._background", "Server": "._server"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'bulk.emulator' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_HOME[name], __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = ["Emulator", "Faults", "Record", "Server", "make_app", "serve"]
