"""The circuit breaker: when nearly every recent request failed, the service is down and
the run stops retrying (its unsent rows are ``skipped``, for ``--resume``)."""

from __future__ import annotations

from collections import deque

__all__ = ["RetryBudget"]


class RetryBudget:
    """Trips when nearly every recent attempt failed: the service is down, stop retrying.

    Only answers that say something of the service's health count: 429s are pacing,
    not failure, and final answers (400, 409...) prove the service is up. Failures of a
    minority of requests can never trip it.
    """

    def __init__(self, *, window: int = 40, max_failure_ratio: float = 0.9) -> None:
        if window < 1:
            raise ValueError(f"window must be 1 or more, got {window!r}")
        self._recent: deque[bool] = deque(maxlen=window)
        self._ratio = max_failure_ratio
        self._failures = 0

    def record(self, *, ok: bool) -> None:
        if len(self._recent) == self._recent.maxlen and not self._recent[0]:
            self._failures -= 1
        self._recent.append(ok)
        self._failures += not ok

    @property
    def exhausted(self) -> bool:
        full = len(self._recent) == self._recent.maxlen
        return full and self._failures >= self._ratio * len(self._recent)

    def describe(self) -> str:
        return f"{self._failures} of the last {len(self._recent)} attempts failed"
