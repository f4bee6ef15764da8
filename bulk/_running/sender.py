"""Step 3: sending one row until it is created, or explained. Never creates it twice.

An ambiguous failure (the request may have been applied) is settled before the row is
sent again: the app is looked up by name, adopted if it exists, and sent again only if
it does not. The Idempotency-Key header, the same for the row across retries and runs,
protects once more on servers that honour it.

``Sender`` holds what every row shares (``Shared``) and the retry policy; each row gets a
``RowSend`` that owns its attempts, the settling of a doubtful one, and its result.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from logging import DEBUG
from typing import cast

import anyio
from tenacity import AsyncRetrying

from .._http.breaker import RetryBudget
from .._http.client import Action, Client, Kind, Reply, is_redirect
from .._http.directory import Directory, conflict_message
from .._http.pacing import Pacer
from .._http.retrying import send_policy
from .._output.results import Result, Stats, Status
from .._shared.errors import Unsettled
from .._shared.logs import log, note
from .._validating.payloads import Row
from .control import RunControl
from .journal import Journal
from .parking import Parking
from .recall import Recall
from .unfinished import unfinished

__all__ = ["Parking", "RowSend", "Sender", "Shared", "unfinished"]

_AGAIN = (Action.RETRY, Action.RECONCILE)
_STOP_WORKERS = b'{"configuration":{"active_workers":0}}'


async def _put(client: Client, row: Row, payload: bytes) -> Reply:
    assert row.target is not None
    return await client.update(row.target, payload, team=row.team)


async def _send_delete(client: Client, row: Row, payload: bytes) -> Reply:
    assert row.target is not None
    return await client.delete(row.target, team=row.team)


_SEND = {"PUT": _put, "DELETE": _send_delete}
_METHODS = {"create": "POST", "update": "PUT", "delete": "DELETE"}


@dataclass(frozen=True, slots=True)
class Shared:
    """What every row's sending uses, built once per run."""

    client: Client
    pacer: Pacer
    directory: Directory
    journal: Journal
    control: RunControl
    budget: RetryBudget
    stats: Stats
    clock: Callable[[], float] = time.monotonic
    recall: Recall | None = None  # what bulk's own record knows, for lagging listings
    settle_wait: float = 0.0  # seconds after an ambiguous failure before looking

    def learn(self, reply: Reply, sent_at: float) -> None:
        """Feeds the pacer and the budget: the limit and the health belong to the key."""
        if reply.kind is Kind.RATE_LIMITED:
            self.pacer.on_throttle(sent_at=sent_at, retry_after=reply.retry_after)
            return
        self.budget.record(
            ok=reply.action in (Action.DONE, Action.FINAL) and reply.kind is not Kind.NETWORK
        )
        if self.budget.exhausted:
            self.control.halt(f"the service looks down: {self.budget.describe()}", kind="server")
        if reply.action is Action.DONE:
            self.pacer.on_success()
        elif reply.kind is Kind.AUTH:
            error = reply.error or "the API key was refused"
            self.control.halt(f"the API key was refused ({error})", kind="auth")
        elif is_redirect(reply):  # never followed: the user fixes --base-url
            self.control.halt(f"the server redirected: {reply.error}", kind="client")


class RowSend:
    """One row on its way: its attempts (``attempt`` is what tenacity retries), the
    settling of a doubtful one, and the result it ends with."""

    __slots__ = (
        "_doubt",
        "_ready",
        "_scaled",
        "_shared",
        "attempts",
        "parked",
        "reply",
        "row",
        "throttled",
        "tries",
    )

    def __init__(self, shared: Shared, row: Row) -> None:
        self._shared, self.row = shared, row
        self._doubt: float | None = None  # after this moment a listing can settle the row
        self._ready = False  # an attempt made before the retry policy took over
        self._scaled = False  # a rollback's PUT to 0 workers is done
        self.attempts = self.throttled = 0
        self.tries = 0  # attempts made, under any policy: the retries they use up
        self.parked = False  # a doubt is settled out of the worker's slot, not in it
        self.reply: Reply | None = None  # the last answer

    @property
    def doubt(self) -> float | None:
        """The moment after which a listing may settle the last request; None: no doubt."""
        return self._doubt

    @property
    def in_doubt(self) -> bool:
        return self._doubt is not None

    def hurry(self) -> None:
        """Settle now, not when the request could have landed: the run is stopping."""
        if self._doubt is not None:
            self._doubt = min(self._doubt, self._shared.clock())

    async def attempt(self) -> RowSend:
        if self._ready:
            self._ready = False
            return self
        if self._doubt is not None:
            found = await self.settle()
            if found is not None:
                self.reply = found
                return self
        self.tries += 1
        await self._post()
        return self

    async def _post(self) -> None:
        """One attempt: the row's request (a rollback's is a PUT to 0 workers, then the
        DELETE), each admitted by the pacer."""
        row = self.row
        if row.op == "delete" and row.scale_down and not self._scaled:
            if not await self._call("PUT", _STOP_WORKERS, preliminary=True):
                return
            reply = self.reply
            self._scaled = reply is not None and reply.action is Action.DONE
            if not self._scaled or (reply is not None and reply.kind is Kind.GONE):
                return
        await self._call(_METHODS[row.op], row.payload)

    async def _call(self, method: str, payload: bytes, *, preliminary: bool = False) -> bool:
        """Sends one request; False when the run stopped first. A ``preliminary`` one (a
        rollback's PUT to 0 workers) is no attempt of its own."""
        shared, row = self._shared, self.row
        sent_at = await shared.pacer.acquire()
        if shared.control.stopping:
            return False  # the last answer stands; the result says the run stopped
        # On disk before the request goes out, each time: --resume waits for the last
        # one sent to land before it lists.
        await shared.journal.durable(shared.journal.intent(row))
        self.attempts += not preliminary
        shared.stats.count(method, retry=self.attempts > 1 and not preliminary)
        if method == "POST":  # the hot path: no dispatch of its own
            reply = await shared.client.create(payload, team=row.team, key=row.key)
        else:
            reply = await _SEND[method](shared.client, row, payload)
        shared.learn(reply, sent_at)
        if log.isEnabledFor(DEBUG):
            took = shared.clock() - sent_at
            note(
                DEBUG,
                "attempt",
                row=row.label or row.number,
                name=row.name,
                method=method,
                status=reply.status,
                kind=reply.kind.value,
                attempt=self.attempts,
                latency=round(took, 3),
            )
        if reply.kind is Kind.RATE_LIMITED:
            self.throttled += 1
            shared.stats.throttled += 1
        if reply.action is Action.RECONCILE:  # look only once it could have landed
            self._doubt = shared.clock() + max(reply.settle_after, shared.settle_wait)
        if method == "PUT" and row.op == "delete" and reply.status == 404:
            reply = Reply(Action.DONE, Kind.GONE, 404, row.target)  # gone before its turn
        self.reply = reply
        return True

    async def settle(self) -> Reply | None:
        """Looks the app up; a Reply when it exists, or when its fate cannot be known.
        A name still missing is looked up once more, in a listing started after the
        first: a listing may lag behind a create that finished late."""
        shared, after = self._shared, self._doubt
        self._doubt = None
        try:
            new = await self._look(after or 0.0)
            if not new and not shared.control.stopping:
                new = await self._look(shared.clock())
        except Unsettled as exc:
            error = f"may have been created; could not check: {exc}"
            return Reply(Action.FINAL, Kind.AMBIGUOUS, error=error)
        if not new:
            return None
        if len(new) > 1:
            error = conflict_message(self.row.team, self.row.name, new)
            return Reply(Action.FINAL, Kind.CLIENT, error=error)
        shared.stats.adopted += 1
        return Reply(Action.DONE, Kind.CREATED, app_id=new[0])

    async def _look(self, after: float) -> list[str]:
        row = self.row
        ids = await self._shared.directory.ids(row.team, row.name, after=after)
        return [app_id for app_id in ids if app_id not in row.existing]

    async def last_look(self) -> None:
        """Out of retries, or stopping, with the last request in doubt: one more look."""
        reply = self.reply
        if reply is None or reply.action is not Action.RECONCILE:
            return
        found = await self.settle() if self._doubt is not None else None
        if found is not None:
            self.reply = found
        elif self._shared.control.stopping:
            # Stopping hurried the look (once, maybe before a late create landed): still
            # in doubt, for --resume to look up before it sends again.
            self.reply = reply._replace(action=Action.RETRY)
        else:
            # Shown absent: not applied, so it failed as a plain network or server error.
            kind = Kind.NETWORK if reply.status is None else Kind.SERVER
            self.reply = reply._replace(action=Action.RETRY, kind=kind)

    def made_first(self) -> bool:
        """True when the first attempt needs retrying; the policy then starts from it."""
        self._ready = self.reply is not None and self.reply.action in _AGAIN
        return self._ready

    def result(self) -> Result:
        row, reply, control = self.row, self.reply, self._shared.control
        if reply is None:
            return unfinished(row, control)
        if reply.action is Action.DONE:
            self._shared.stats.workers += row.workers
            status = cast(Status, reply.kind.value)  # created, updated, deleted or gone
            return Result(row.number, row.name, status, reply.app_id, reply.status, self.attempts)
        if control.stopping and reply.action is Action.RETRY:
            return unfinished(row, control, attempts=self.attempts, last=reply)
        return Result(
            row.number,
            row.name,
            "failed",
            None,
            reply.status,
            self.attempts,
            reply.error,
            reply.kind.value,
        )


class Sender:
    """Sends rows one ``RowSend`` each, under one retry policy built for the run."""

    def __init__(
        self,
        shared: Shared,
        *,
        max_retries: int,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._shared, self._max_retries = shared, max_retries
        control, budget = shared.control, shared.budget
        self._keep_going: Callable[[], bool] = lambda: not control.stopping and not budget.exhausted
        self._policy = send_policy(
            max_retries=max_retries, keep_going=self._keep_going, sleep=sleep
        )
        self._idle: list[AsyncRetrying] = []

    async def send(self, row: Row, *, parking: Parking | None = None) -> Result | None:
        """Sends the row (create, update or delete) until it is done, or explained. With
        ``parking``, a row left in doubt is settled apart and its result recorded from
        there (None here): its worker goes on to the next row meanwhile."""
        recall = self._shared.recall
        if recall is not None and row.op == "create":
            known = await recall.confirm(row)  # missing from a listing that may lag
            if known is not None:
                return known
        one = RowSend(self._shared, row)
        one.parked = parking is not None
        await one.attempt()
        if not (one.parked and one.in_doubt) and one.made_first():
            # Most rows succeed at once and never pay for the policy's bookkeeping; the
            # others go on under it from this first attempt, as if it had made it.
            await self._retried(one)
        if parking is not None and one.in_doubt:
            parking.park(row, functools.partial(self._apart, one, parking.slot))
            return None
        return await self._end(one)

    async def _apart(self, one: RowSend, slot: anyio.CapacityLimiter) -> Result:
        """A row in doubt, out of any worker's slot: wait until its request could have
        landed, look (twice), and only then take a slot to send it again."""
        clock, control = self._shared.clock, self._shared.control
        while one.doubt is not None:
            await control.pause(max(one.doubt - clock(), 0.0))
            if control.stopping:  # look now: unsettled, its intent keeps it for --resume
                one.hurry()
            found = await one.settle()
            if found is not None:
                one.reply = found
                break
            if not self._keep_going() or one.tries - one.throttled > self._max_retries:
                break  # shown absent: it failed, and is not sent again
            async with slot:
                await self._retried(one)  # stops at the next doubt, to come back here
        return await self._end(one)

    async def _end(self, one: RowSend) -> Result:
        await one.last_look()
        result = one.result()
        if self._shared.recall is not None:
            self._shared.recall.learn(one.row, result)
        return result

    async def _retried(self, one: RowSend) -> None:
        # A policy holds the state of one call: each is reused by one row at a time.
        policy = self._idle.pop() if self._idle else self._policy.copy()
        try:
            await policy(one.attempt)
        finally:
            self._idle.append(policy)
