"""The parser of the command line, whose errors never echo what was typed: a key typed
in the wrong place (``--api KEY``, ``--token=KEY``, a stray argument) would otherwise be
printed back to a terminal that is recorded, a CI log or a shared screen."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["Parser", "unrecognized"]

# What argparse quotes back: "invalid float value: 'x'", "invalid choice: 'x'" (the
# messages of our own types name no value).
_ECHOED = re.compile(r"(invalid [\w ]*?value|invalid choice): (?:'[^']*'|\"[^\"]*\")")
_UNRECOGNIZED = "unrecognized arguments: "


def unrecognized(extras: Sequence[str]) -> str:
    """The unknown flags by name, every value as ***."""
    return _UNRECOGNIZED + " ".join(_shown(arg) for arg in extras) + " (values are not shown)"


def _shown(arg: str) -> str:
    if arg.startswith("--") and len(arg) > 2:
        name, given, _ = arg.partition("=")
        return f"{name}=***" if given else name
    if arg.startswith("-") and len(arg) > 1:
        return arg[:2] + ("***" if len(arg) > 2 else "")  # -kKEY: the flag, not its value
    return "***"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors name flags, never values."""

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        known, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(unrecognized(extras))
        return known

    def error(self, message: str) -> NoReturn:
        if message.startswith(_UNRECOGNIZED) and not message.endswith("not shown)"):
            message = unrecognized(message.removeprefix(_UNRECOGNIZED).split())
        super().error(_ECHOED.sub(r"\1", message))
