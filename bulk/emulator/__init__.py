"""The built-in emulator of the RunGen.AI app API: a test double of the server."""

from ._app import make_app, serve
from ._faults import Faults, Record
from ._server import Emulator

__all__ = ["Emulator", "Faults", "Record", "make_app", "serve"]
