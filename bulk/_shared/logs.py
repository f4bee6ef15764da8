"""Logs for unattended runs: every line with its UTC time, as text or as JSON.

The command line's messages to stderr (warnings, why a run stopped, errors) go through
the ``bulk`` logger; ``-v`` adds one line per request attempt, ``-vv`` the pacer's
decisions. The library logs the same way and leaves handlers to the application.
Messages carry no key: server text is redacted before it reaches a reply.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["TRACE", "configure", "log", "note"]

log = logging.getLogger("bulk")
TRACE = 5  # -vv: the pacer's decisions
logging.addLevelName(TRACE, "TRACE")


def note(level: int, message: str, **fields: Any) -> None:
    """A log line with fields that JSON lines carry as keys (and text lines as k=v)."""
    if log.isEnabledFor(level):
        log.log(level, message, extra={"fields": fields})


def _stamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields: Mapping[str, Any] = getattr(record, "fields", {})
    return fields


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v is not None)
        return f"{_stamp(record)} {record.getMessage()}" + (f" {pairs}" if pairs else "")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": _stamp(record), "level": record.levelname.lower()}
        line["message"] = record.getMessage()
        # JSON has no Infinity: an unlimited rate is null, as every parser reads it.
        fields = {k: None if v in (math.inf, -math.inf) else v for k, v in _fields(record).items()}
        return json.dumps({**line, **fields}, ensure_ascii=False, default=str)


def configure(
    *, format: str = "text", file: str | None = None, verbosity: int = 0
) -> Callable[[], None]:
    """Sends the ``bulk`` log to stderr (or ``file``); returns what undoes it."""
    handler: logging.Handler
    if file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.FileHandler(file, encoding="utf-8")
    handler.setFormatter(_Json() if format == "json" else _Text())
    before = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel((logging.INFO, logging.DEBUG)[verbosity] if verbosity < 2 else TRACE)
    log.propagate = False

    def undo() -> None:
        log.removeHandler(handler)
        handler.close()
        log.setLevel(before[0])
        log.propagate = before[1]

    return undo
