"""Rows in doubt wait apart: a run's time grows by the settle wait, not by the number of
rows waiting. A worker whose row is left in doubt (a 500, 502, 504, a dropped
connection, a read timeout) hands it over and takes the next row; the row waits, is
looked up, and takes a slot again only to be sent again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

import anyio

from .._output.results import Result
from .._validating.payloads import Row

__all__ = ["Parking"]


class Parking(NamedTuple):
    """Where a worker hands a row in doubt: ``park(row, finish)`` runs ``finish`` apart
    and records the result it returns; ``slot`` admits every request, so that rows sent
    again from there never put more than ``concurrency`` requests in flight."""

    park: Callable[[Row, Callable[[], Awaitable[Result]]], None]
    slot: anyio.CapacityLimiter
