"""The cost guard: a run refuses, before it sends anything, when the apps it would create
or raise ask for more active workers in all than the user allows. Billing starts at one
active worker per app."""

from __future__ import annotations

from collections.abc import Iterable

from .._output.results import Result
from .._shared.errors import UsageError
from .._validating.payloads import Row

__all__ = ["guard"]


def guard(decisions: Iterable[tuple[Row, Result | None]], limit: int) -> None:
    """Raises ``UsageError`` naming the largest rows when the rows to send ask for more
    than ``limit`` active workers."""
    asked = [(row.workers, row.number, row.name) for row, result in decisions if result is None]
    total = sum(workers for workers, _, _ in asked)
    if total <= limit:
        return
    largest = sorted((a for a in asked if a[0]), key=lambda a: (-a[0], a[1]))[:3]
    named = ", ".join(f"row {number} {name!r} ({workers:,})" for workers, number, name in largest)
    raise UsageError(
        f"the apps this run would create or raise ask for {total:,} active workers in all, "
        f"more than the limit of {limit:,} (--max-active-workers, RUNGEN_MAX_ACTIVE_WORKERS "
        f"or max_active_workers=; billing starts at 1 active worker per app); the largest: "
        f"{named}. Nothing was sent"
    )
