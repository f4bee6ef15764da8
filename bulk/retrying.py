"""The retry policies, as configured tenacity objects built once per run.

A row is retried while its last reply says ``retry`` or ``reconcile`` and the run is not
stopping. 429s do not use up a row's retries, because the shared pacer, not a per-row
backoff, answers them; they are bounded by a cap of their own so that a row can never
loop for ever. Other retries back off exponentially with full jitter, or wait the
server's Retry-After when it sends one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import tenacity
from tenacity import AsyncRetrying, RetryCallState

from .client import Reply

__all__ = ["THROTTLE_ALLOWANCE", "listing_policy", "send_policy"]

# 429s a row may meet beyond its retries before it is given up as rate_limited.
THROTTLE_ALLOWANCE = 20


def _reply(state: RetryCallState) -> Reply:
    return state.outcome.result()  # type: ignore[union-attr]


class _StopAfterRetries(tenacity.stop.stop_base):
    """Counts only the attempts that were not throttled, plus a cap on throttled ones."""

    def __init__(self, max_retries: int) -> None:
        self._max_retries = max_retries
        self._cap = max_retries + 1 + THROTTLE_ALLOWANCE

    def __call__(self, state: RetryCallState) -> bool:
        others = state.attempt_number - _reply(state).throttled
        return others > self._max_retries or state.attempt_number >= self._cap


class _Wait(tenacity.wait.wait_base):
    def __init__(self) -> None:
        self._backoff = tenacity.wait_random_exponential(multiplier=0.5, max=30)

    def __call__(self, state: RetryCallState) -> float:
        reply = _reply(state)
        if reply.kind == "rate_limited":
            return 0.0  # the shared pacer holds every worker back, this one included
        if reply.retry_after is not None:
            return reply.retry_after
        return self._backoff(state)


def send_policy(
    *,
    max_retries: int,
    keep_going: Callable[[], bool],
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> AsyncRetrying:
    """The policy for one row's POSTs; ``copy()`` it per row, it holds per-call state."""
    return AsyncRetrying(
        stop=_StopAfterRetries(max_retries),
        wait=_Wait(),
        retry=tenacity.retry_if_result(
            lambda r: r.action in ("retry", "reconcile") and keep_going()
        ),
        sleep=sleep,
        retry_error_callback=_reply,
    )


def listing_policy(
    *, attempts: int = 4, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
) -> AsyncRetrying:
    """The policy for GET /app when settling whether an app exists."""
    return AsyncRetrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_random_exponential(multiplier=0.5, max=10),
        retry=tenacity.retry_if_result(lambda pair: pair[0].action not in ("done", "final")),
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
