"""The retry policies, as configured tenacity objects built once per run.

A row is retried while its last reply says ``retry`` or ``reconcile`` and the run is not
stopping. 429s do not use up a row's retries, because the shared pacer, not a per-row
backoff, answers them; they are bounded by a cap of their own so that a row can never
loop for ever. Other retries back off exponentially with full jitter, or wait the
server's Retry-After when it sends one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import tenacity
from tenacity import AsyncRetrying, RetryCallState

from .client import Action, Kind, Reply

__all__ = ["THROTTLE_ALLOWANCE", "Tried", "listing_policy", "send_policy"]

# 429s a row may meet beyond its retries before it is given up as rate_limited.
THROTTLE_ALLOWANCE = 20


class Tried(Protocol):
    """What a send attempt leaves for the policy to read: the row's own state."""

    @property
    def reply(self) -> Reply | None: ...

    @property
    def throttled(self) -> int: ...

    @property
    def tries(self) -> int: ...

    @property
    def parked(self) -> bool: ...

    @property
    def in_doubt(self) -> bool: ...


_AGAIN = (Action.RETRY, Action.RECONCILE)


def _again(reply: Reply | None) -> bool:
    return reply is not None and reply.action in _AGAIN


def _tried(state: RetryCallState) -> Tried:
    assert state.outcome is not None
    tried: Tried = state.outcome.result()
    return tried


class _StopAfterRetries(tenacity.stop.stop_base):
    """Counts only the attempts that were not throttled, plus a cap on throttled ones."""

    def __init__(self, max_retries: int) -> None:
        self._max_retries = max_retries
        self._cap = max_retries + 1 + THROTTLE_ALLOWANCE

    def __call__(self, state: RetryCallState) -> bool:
        tried = _tried(state)
        # The row's own count: a row whose doubt was settled out of its worker goes on
        # under a fresh copy of the policy, with the retries it has left.
        others = tried.tries - tried.throttled
        return others > self._max_retries or tried.tries >= self._cap


class _Wait(tenacity.wait.wait_base):
    def __init__(self) -> None:
        self._backoff = tenacity.wait_random_exponential(multiplier=0.5, max=30)

    def __call__(self, state: RetryCallState) -> float:
        reply = _tried(state).reply
        if reply is None or reply.kind is Kind.RATE_LIMITED:
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
    """The policy for one row's POSTs; ``copy()`` it per row, it holds per-call state.
    The retried callable returns the row's ``Tried`` state, whose ``reply`` is the last."""
    return AsyncRetrying(
        stop=_StopAfterRetries(max_retries),
        wait=_Wait(),
        # A parked row in doubt leaves the policy: it is settled out of its worker's slot.
        retry=tenacity.retry_if_result(
            lambda t: _again(t.reply) and keep_going() and not (t.parked and t.in_doubt)
        ),
        sleep=sleep,
        retry_error_callback=_tried,
    )


class _Answered(Protocol):
    @property
    def reply(self) -> Reply: ...


def _answer_wait(state: RetryCallState) -> float:
    """The server's Retry-After when it gave one, else backoff with full jitter."""
    assert state.outcome is not None
    answered: _Answered = state.outcome.result()
    reply = answered.reply
    if reply.kind is Kind.RATE_LIMITED:
        return 0.0  # the shared pacer holds every request back, this one included
    if reply.retry_after is not None:
        return reply.retry_after
    return _BACKOFF(state)


_BACKOFF = tenacity.wait_random_exponential(multiplier=0.5, max=10)


def listing_policy(
    *, attempts: int = 6, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
) -> AsyncRetrying:
    """The policy for one page of GET /app, or one GET /app/{id}: the retried callable
    returns something with a ``reply``."""
    return AsyncRetrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=_answer_wait,
        retry=tenacity.retry_if_result(lambda answered: _again(answered.reply)),
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
    )
