"""Step 5a: sending one row until it is created, or explained. Never creates it twice.

An ambiguous failure (the request may have been applied) is settled before the row is
sent again: the app is looked up by name, adopted if it exists, and sent again only if
it does not. The Idempotency-Key header, the same for the row across retries and runs,
protects once more on servers that honour it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
from tenacity import AsyncRetrying

from .client import Client, Reply
from .directory import Directory, Unsettled, conflict_message
from .journal import Journal
from .pacing import Pacer, RetryBudget
from .payloads import Row
from .results import Result, Stats
from .retrying import send_policy

__all__ = ["Sender"]


class _Attempts:
    """One row's attempts: the callable that tenacity retries."""

    __slots__ = ("attempts", "doubt", "last", "made", "row", "sender", "throttled")

    def __init__(self, sender: Sender, row: Row, doubt: float | None) -> None:
        self.sender, self.row = sender, row
        self.doubt = doubt  # moment after which a listing can settle the row's fate
        self.attempts = self.throttled = 0
        self.last: Reply | None = None  # the last answer, for a row the run stops retrying
        self.made: Reply | None = None  # an attempt made before the retry policy took over

    async def run(self) -> Reply:
        if self.made is not None:
            made, self.made = self.made, None
            return made
        if self.doubt is not None:
            found = await self.settle()
            if found is not None:
                return found
        return await self.sender.post(self)

    async def settle(self) -> Reply | None:
        """Looks the app up; a Reply when it exists, or when its fate cannot be known."""
        sender, row, after = self.sender, self.row, self.doubt
        self.doubt = None
        try:
            ids = await sender.directory.ids(row.team, row.name, after=after)
        except Unsettled as exc:
            return Reply(
                "final", "ambiguous", error=f"may have been created; could not check: {exc}"
            )
        new = [app_id for app_id in ids if app_id not in row.existing]
        if not new:
            return None
        if len(new) > 1:
            return Reply("final", "client", error=conflict_message(row.team, row.name, new))
        sender.stats.adopted += 1
        return Reply("done", "created", app_id=new[0])


class Sender:
    def __init__(
        self,
        client: Client,
        pacer: Pacer,
        directory: Directory,
        journal: Journal,
        *,
        max_retries: int,
        budget: RetryBudget,
        keep_going: Callable[[], bool],
        on_auth_failure: Callable[[str], None],
        on_service_down: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        stats: Stats | None = None,
    ) -> None:
        self.client, self.pacer, self.directory, self.journal = client, pacer, directory, journal
        self.budget, self._clock = budget, clock
        self._on_auth_failure, self._on_service_down = on_auth_failure, on_service_down
        self._keep_going = keep_going
        self._policy = send_policy(max_retries=max_retries, keep_going=self._may_retry, sleep=sleep)
        self._idle: list[AsyncRetrying] = []
        self.stats = stats if stats is not None else Stats()

    def _may_retry(self) -> bool:
        return self._keep_going() and not self.budget.exhausted

    async def send(self, row: Row, *, in_doubt: bool = False, since: float = 0.0) -> Result:
        """Creates the row's app; ``in_doubt`` when an earlier run may have created it."""
        attempts = _Attempts(self, row, since if in_doubt else None)
        reply = await attempts.run()
        if reply.action in ("retry", "reconcile"):
            # Most rows succeed at once and never pay for the policy's bookkeeping; the
            # others go on under it from this first attempt, as if it had made it.
            attempts.made = reply
            reply = await self._retried(attempts)
        if reply.action == "reconcile":
            # Out of retries, or stopping, with the last request in doubt: one last look.
            reply = await attempts.settle() or _known_absent(reply)
        return _result(row, reply, attempts.attempts, not self._may_retry())

    async def _retried(self, attempts: _Attempts) -> Reply:
        # A policy holds the state of one call: each is reused by one row at a time.
        policy = self._idle.pop() if self._idle else self._policy.copy()
        try:
            return await policy(attempts.run)
        finally:
            self._idle.append(policy)

    async def post(self, attempts: _Attempts) -> Reply:
        row = attempts.row
        sent_at = await self.pacer.acquire()
        if not self._keep_going():
            last = attempts.last
            return Reply("final", "stopped", last and last.status, error=last and last.error)
        if attempts.attempts == 0:
            self.journal.intent(row)
        attempts.attempts += 1
        self.stats.requests += 1
        self.stats.retries += attempts.attempts > 1
        reply = await self.client.create(row.payload, team=row.team, key=row.key)
        reply.sent_at = sent_at
        self._learn(reply)
        if reply.kind == "rate_limited":
            attempts.throttled += 1
        reply.throttled = attempts.throttled
        if reply.action == "reconcile":
            attempts.doubt = self._clock() + reply.settle_after
        attempts.last = reply
        return reply

    def _learn(self, reply: Reply) -> None:
        """Feeds the shared pacer and budget: the limit and the health belong to the key."""
        if reply.kind == "rate_limited":
            self.pacer.on_throttle(sent_at=reply.sent_at, retry_after=reply.retry_after)
            return
        self.budget.record(ok=reply.action in ("done", "final") and reply.kind != "network")
        if self.budget.exhausted:
            self._on_service_down(self.budget.describe())
        if reply.action == "done":
            self.pacer.on_success()
        elif reply.kind == "auth":
            self._on_auth_failure(reply.error or "the API key was refused")


def _known_absent(reply: Reply) -> Reply:
    """A doubtful failure whose app a listing showed absent: not applied, safe to resend."""
    kind = "network" if reply.status is None else "server"
    return Reply("retry", kind, reply.status, error=reply.error)


def _result(row: Row, reply: Reply, attempts: int, stopped: bool) -> Result:
    if reply.action == "done":
        return Result(row.number, row.name, "created", reply.app_id, reply.status, attempts)
    if reply.kind == "stopped" or (stopped and reply.action == "retry"):
        # Not settled, but not given up on either: the run stopped. --resume goes on.
        error = "not sent: the run stopped" if attempts == 0 else "not retried: the run stopped"
        if reply.error:
            error += f"; last answer: {reply.error}"
        return Result(row.number, row.name, "skipped", None, reply.status, attempts, error)
    return Result(
        row.number, row.name, "failed", None, reply.status, attempts, reply.error, reply.kind
    )
