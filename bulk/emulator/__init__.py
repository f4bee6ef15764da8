"""The built-in emulator of the RunGen.AI app API: a test double of the server."""

from ._faults import Faults, Record
from ._server import Emulator, make_app, serve

__all__ = ["Emulator", "Faults", "Record", "make_app", "serve"]
