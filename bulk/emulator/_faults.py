"""The faults of a real service that the emulator can play, and what it counts."""

from __future__ import annotations

import difflib
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from email.utils import formatdate
from typing import Any

__all__ = [
    "PAGING",
    "Faults",
    "Record",
    "TokenBucket",
    "draw",
    "faults_of",
    "retry_after_header",
]


PAGING = ("cursor", "next", "link", "page")


@dataclass
class Faults:
    """Shares are chances from 0 to 1, drawn per POST from one seeded generator."""

    rate_limit: float = 0.0  # requests per second per key; 0: no limit
    burst: float | None = None  # requests a full bucket allows at once; None: a second's worth
    retry_after: str = "seconds"  # "seconds", "date" or "none"
    error_rate: float = 0.0  # 500/502/503/504 before creating (502 as an HTML page)
    drop_before: float = 0.0  # connection dropped before the app is created
    drop_after: float = 0.0  # connection dropped after the app is created: the ambiguous case
    latency: float = 0.0  # seconds added to every answer
    idempotency: bool = True  # replay the first answer for an Idempotency-Key seen before
    envelope: bool = False  # answer {"data": {...}} as the live service does
    seed: int | None = None
    start_seconds: float = 0.0  # an app given workers is INITIALIZING this long, then RUNNING
    never_start: tuple[str, ...] = ()  # names of apps that stay INITIALIZING
    fail: tuple[str, ...] = ()  # names of apps that end FAILED once given workers
    page_size: int = 0  # apps per page of GET /app; 0: one answer holds them all
    paging: str = "cursor"  # how a page leads to the next: cursor, next, link or page
    list_lag: float = 0.0  # seconds before a new app shows in listings
    late_create: float = 0.0  # share of valid POSTs answered 504, the app created later
    late_delay: float = 0.0  # seconds after such a 504 that the app is created
    list_error_rate: float = 0.0  # share of listings answered 503 with Retry-After

    def __post_init__(self) -> None:
        # One name given alone is one app, not its letters.
        self.never_start, self.fail = _names(self.never_start), _names(self.fail)
        for name in ("error_rate", "drop_before", "drop_after", "late_create", "list_error_rate"):
            share = getattr(self, name)
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be a share from 0 to 1, got {share!r}")
        if self.retry_after not in ("seconds", "date", "none"):
            raise ValueError(f"retry_after must be seconds, date or none, got {self.retry_after!r}")
        for name in (
            "rate_limit",
            "latency",
            "start_seconds",
            "list_lag",
            "late_delay",
            "page_size",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)!r}")
        if self.paging not in PAGING:
            raise ValueError(f"paging must be one of {', '.join(PAGING)}, got {self.paging!r}")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"burst must be 1 or more, got {self.burst!r}")


def _names(given: Any) -> tuple[str, ...]:
    return (given,) if isinstance(given, str) else tuple(given)


# serve's flags, by the names a notebook would spell them, where they differ from Faults'.
_SERVE_SPELLINGS: dict[str, Callable[[Any], tuple[str, Any]]] = {
    "no_idempotency": lambda value: ("idempotency", not value),
    "fail_app": lambda value: ("fail", value),
}


def faults_of(where: str, given: dict[str, Any]) -> Faults:
    """``Faults`` from keyword options, serve's spellings too (``no_idempotency=True``,
    ``fail_app=``); an unknown one is named, with the ones there are."""
    known = [f.name for f in fields(Faults)]
    options: dict[str, Any] = {}
    for name, value in given.items():
        if name in _SERVE_SPELLINGS:
            name, value = _SERVE_SPELLINGS[name](value)
        elif name not in known:
            close = difflib.get_close_matches(name, [*known, *_SERVE_SPELLINGS], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{where}: unknown option {name!r}{hint}; the options are: {', '.join(known)} "
                f"(and serve's spellings {', '.join(_SERVE_SPELLINGS)})"
            )
        if name in options:
            raise TypeError(f"{where}: {name!r} is given twice (once in serve's spelling)")
        options[name] = value
    return Faults(**options)


class TokenBucket:
    """Allows ``rate`` requests per second with a burst of ``burst`` (default: one
    second's worth)."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self._clock = rate, clock
        self.capacity = max(1.0, rate if burst is None else burst)
        self._tokens, self._last = self.capacity, clock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


@dataclass
class Record:
    """What the emulator received and answered, for tests and benchmarks to assert on."""

    posts: int = 0
    gets: int = 0
    puts: int = 0
    deletes: int = 0
    put_bodies: list[dict[str, Any]] = field(default_factory=list)  # accepted PUT bodies
    # (owner, app id, active workers at that moment) of every app deleted
    deleted: list[tuple[str, str, int]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    created: Counter[tuple[str, str]] = field(default_factory=Counter)  # (owner, name) -> apps
    bodies: list[dict[str, Any]] = field(default_factory=list)  # POST bodies, as received
    headers: list[dict[str, str]] = field(default_factory=list)  # POST headers of interest
    replays: int = 0
    late: int = 0  # POSTs answered 504 whose app comes later
    landed: int = 0  # of those, the apps created since
    pages: int = 0  # pages of GET /app answered 200
    peers: set[tuple[str, int]] = field(default_factory=set)  # client sockets seen
    drops: Counter[str] = field(default_factory=Counter)
    post_times: list[float] = field(default_factory=list)  # arrival of each POST
    post_answers: list[tuple[float, int]] = field(default_factory=list)  # (time, status)

    def duplicates(self) -> dict[tuple[str, str], int]:
        return {key: n for key, n in self.created.items() if n > 1}


def draw(rng: random.Random, share: float) -> bool:
    return share > 0 and rng.random() < share


def retry_after_header(
    seconds: float, form: str, *, now: Callable[[], float] = time.time
) -> dict[str, str]:
    wait = max(1, math.ceil(seconds))
    if form == "seconds":
        return {"Retry-After": str(wait)}
    if form == "date":
        return {"Retry-After": formatdate(now() + wait, usegmt=True)}
    return {}
