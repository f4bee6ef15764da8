"""Step 3: the pool. Rows stream from the spool of prepared rows into ``concurrency``
workers through a rendezvous channel: no task per row is created up front, a run that
stops takes no new row, and only the rows in flight (and the bounded reorder buffer of
results) are in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace

import anyio
import anyio.abc
import anyio.lowlevel

from .._http.directory import Directory
from .._output.progress import Progress
from .._output.results import Result, Stats
from .._shared.errors import Unsettled
from .._validating.payloads import Row
from .._validating.prepared import spooled_rows
from .._validating.spool import Spool
from .control import RunControl
from .journal import Earlier, Journal, Prior, salted_key
from .ordered import OrderedResults
from .sender import Parking, Sender, unfinished

__all__ = ["Decide", "Pool"]

_END = object()  # no row left
_SETTLED_PER_TURN = 256  # rows settled without a request before the others get a turn

# What a row needs, from the listing and what an earlier run did: a result, or None to
# send it (the decision may set what to send on the row).
Decide = Callable[[Row, Directory, Prior | None], tuple[Row, Result | None]]


class Pool:
    def __init__(
        self,
        rows: Spool,
        results: OrderedResults,
        progress: Progress,
        journal: Journal,
        control: RunControl,
    ) -> None:
        self.rows, self.results, self.progress = rows, results, progress
        self.journal, self.control = journal, control

    def record(self, row: Row, result: Result, *, journal: bool = True) -> None:
        if journal:
            self.journal.result(row, result)
        result.team_id = row.team
        self.results.add(result)
        self.progress.add(result)

    async def list_teams(self, directory: Directory, teams: tuple[str, ...]) -> bool:
        """Lists each team's apps once, before any POST: ids come from this listing of
        this target, never from an older file. False when a listing failed, or Ctrl-C
        came first: a team's thousands of pages are not waited for."""
        failed: list[Unsettled] = []

        async def listing(scope: anyio.CancelScope) -> None:
            try:
                await directory.list_each(teams)
            except Unsettled as exc:
                failed.append(exc)
            scope.cancel()

        async with anyio.create_task_group() as group:
            group.start_soon(listing, group.cancel_scope)
            await self.control.wait_interrupted()
            group.cancel_scope.cancel()
        if failed:
            self.control.halt(_listing_failed(failed[0]), kind=failed[0].kind)
        return not failed and not self.control.interrupted

    async def run(
        self,
        sender: Sender,
        directory: Directory,
        earlier: Earlier,
        stats: Stats,
        *,
        concurrency: int,
        decide: Decide,
    ) -> None:
        rows = self._to_send(directory, earlier, stats, decide)
        try:
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._watch, outer.cancel_scope)
                async with anyio.create_task_group() as workers:
                    parking = Parking(self._parker(workers), anyio.CapacityLimiter(concurrency))
                    for _ in range(concurrency):
                        workers.start_soon(self._worker, sender, rows, parking)
                outer.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # A worker's error (a full disk, say) as it is: the caller says it plainly.
            raise _first(group) from None

    def _parker(
        self, group: anyio.abc.TaskGroup
    ) -> Callable[[Row, Callable[[], Awaitable[Result]]], None]:
        def park(row: Row, finish: Callable[[], Awaitable[Result]]) -> None:
            async def apart() -> None:
                result = await finish()
                self.record(row, result, journal=result.status != "skipped")

            group.start_soon(apart)

        return park

    def decisions(
        self, directory: Directory, earlier: Earlier, decide: Decide
    ) -> Iterator[tuple[Row, Result | None]]:
        """Each row with what it needs, in manifest order: a result, or None to send it.
        Every team was listed before, so nothing waits."""
        for row in spooled_rows(self.rows):
            if row.error:
                yield row, unfinished(row, self.control)
                continue
            if directory.listed(row.team, row.name) is None:
                # A team the listing before sending missed: never guess.
                self.control.halt(f"the apps of team {row.team!r} were not listed", kind="server")
                return
            yield decide(row, directory, earlier.rows.get((row.team, row.name)))

    def _to_send(
        self, directory: Directory, earlier: Earlier, stats: Stats, decide: Decide
    ) -> Iterator[Row | None]:
        """The rows to send; the others get their result on the way, each followed by a
        None: the worker then looks at the reorder buffer's room, and now and then lets
        the others run. Shared by the workers: each takes the next row when it is free."""
        run_id = self.journal.run_id
        for row, result in self.decisions(directory, earlier, decide):
            if result is None:
                if row.op == "create":
                    row = replace(row, key=salted_key(row.key, run_id))
                yield row
                continue
            prior = earlier.rows.get((row.team, row.name))
            # Found after an earlier run's request whose outcome was never recorded.
            stats.adopted += (
                prior is not None and result.status == "created" and result.app_id != prior.app_id
            )
            self.record(row, result, journal=not row.error)
            yield None

    async def _worker(self, sender: Sender, rows: Iterator[Row | None], parking: Parking) -> None:
        settled = 0
        while not self.control.stopping:
            # Rows finish out of order; the buffer that puts them back in order is bounded,
            # rows settled by the listing (a re-run's "exists") included.
            await self.results.room(lambda: self.control.stopping)
            row = next(rows, _END)
            if row is _END or self.control.stopping:
                return
            if row is None:
                settled += 1
                if settled % _SETTLED_PER_TURN == 0:
                    await anyio.lowlevel.checkpoint()
                continue
            assert isinstance(row, Row)
            self.results.take(row.number)
            async with parking.slot:
                result = await sender.send(row, parking=parking)
            if result is not None:  # else it is settled apart, and recorded from there
                self.record(row, result, journal=result.status != "skipped")

    async def _watch(self, scope: anyio.CancelScope) -> None:
        """After a stop request, in-flight requests get a grace period, then are abandoned."""
        await self.control.wait_interrupted()
        with anyio.move_on_after(self.control.grace):
            await self.control.wait_abandoned()
        scope.cancel()

    def fill(self) -> None:
        """Gives every row still without a result the one it has now the run is over."""
        for row in spooled_rows(self.rows, start=self.results.first_missing):
            if not self.results.has(row.number):
                self.record(row, self._unfinished(row), journal=False)

    def _unfinished(self, row: Row) -> Result:
        prior = self.journal.earlier.rows.get((row.team, row.name))
        if prior is not None and prior.app_id and not row.error:
            # A stopped run's app, as the server answered it then: its id must stay in
            # the results (a rollback needs it) even when this run stops before looking.
            return Result(row.number, row.name, "created", prior.app_id)
        sent = row.number in self.journal.sent
        return unfinished(row, self.control, in_flight=sent)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error in the (nested) group: the one that stopped the workers."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _listing_failed(exc: Unsettled) -> str:
    if exc.kind == "auth":
        return f"the API key was refused ({exc})"
    return f"the apps could not be listed before sending, so nothing was sent: {exc}"
