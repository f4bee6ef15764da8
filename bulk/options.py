"""The options of a run that sends: checked up front, each message naming the
parameter and the fix, then frozen."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UsageError

__all__ = ["SendOptions", "check_arguments"]


def check_arguments(concurrency: int, rate: float, max_retries: int, timeout: float) -> None:
    checks = [
        (
            "concurrency",
            concurrency,
            isinstance(concurrency, int) and concurrency >= 1,
            "a whole number 1 or more, e.g. concurrency=8",
        ),
        (
            "rate",
            rate,
            isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0,
            "requests per second, 0 for no cap",
        ),
        (
            "max_retries",
            max_retries,
            isinstance(max_retries, int) and max_retries >= 0,
            "a whole number 0 or more, e.g. max_retries=5",
        ),
        (
            "timeout",
            timeout,
            isinstance(timeout, int | float) and timeout > 0,
            "seconds per request, more than 0, e.g. timeout=30",
        ),
    ]
    for name, value, ok, fix in checks:
        if not ok or isinstance(value, bool):
            raise UsageError(f"{name} must be {fix}; got {value!r}")


@dataclass(frozen=True)
class SendOptions:
    """How a real run sends: built once, read by the pool and the sender."""

    concurrency: int
    rate: float
    max_retries: int
    timeout: float
    progress: bool
    skip_existing: bool
