"""Step 3: results put back in manifest order as they come, and parked on disk.

Rows finish out of order (a slow retry, a fast neighbour). A result waits in a bounded
reorder buffer only until every row before it has one; then it goes, in order, to a
spool on disk, from which the results file and the returned DataFrame are built at the
end. A worker waits (``room``) before it takes a new row rather than let the buffer
grow without bound behind one slow row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anyio

from .._output.results import Result
from .._validating.spool import Spool

__all__ = ["WINDOW", "OrderedResults"]

_BATCH = 10_000  # results per batch on disk
WINDOW = 50_000  # rows that may be on their way past the first row without a result


class OrderedResults:
    def __init__(self, *, window: int | None = None) -> None:
        self.counts: Counter[str] = Counter()  # by status
        self.kinds: Counter[str] = Counter()  # by error kind
        self._window = window or WINDOW
        self._spool = Spool()
        self._pending: dict[int, Result] = {}
        self._ready: list[tuple[Any, ...]] = []
        self._next = 1  # the first row without its result in the spool
        self._taken = 0  # the last row handed to the pool
        self.labels: list[int] | None = None  # the row number to show for each row
        self._moved: anyio.Event | None = None

    def add(self, result: Result) -> None:
        self._taken = max(self._taken, result.row)  # a row settled without a request too
        self.counts[result.status] += 1
        if result.error_kind:
            self.kinds[result.error_kind] += 1
        if result.row != self._next:
            self._pending[result.row] = result
            return
        self._emit(result)
        while self._next in self._pending:
            self._emit(self._pending.pop(self._next))
        if self._moved is not None:
            self._moved.set()
            self._moved = None

    def _emit(self, r: Result) -> None:
        row = r.as_tuple()
        if self.labels is not None:  # rows numbered 1..n here, shown by their own numbers
            row = (self.labels[r.row - 1], *row[1:])
        self._ready.append(row)
        self._next += 1
        if len(self._ready) >= _BATCH:
            self._spool.append(self._ready)
            self._ready = []

    def has(self, row: int) -> bool:
        return row < self._next or row in self._pending

    @property
    def first_missing(self) -> int:
        return self._next

    def take(self, row: int) -> None:
        """Row ``row`` is on its way: its result will come."""
        self._taken = max(self._taken, row)

    async def room(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """Waits while the rows on their way reach too far past the first row without a
        result: one slow row must not make the buffer grow without bound. A run that is
        ``stopping`` waits no more: the row it waits for may never be sent."""
        while self._taken - self._next >= self._window and not stopping():
            if self._moved is None:  # one event for every waiter: each add may wake them
                self._moved = anyio.Event()
            await self._moved.wait()

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The results in manifest order, as tuples in the order of ``COLUMNS``."""
        if self._pending:
            raise RuntimeError(f"rows {sorted(self._pending)[:3]}... wait for earlier rows")
        self._spool.append(self._ready)
        self._ready = []
        yield from self._spool.batches()

    @property
    def total(self) -> int:
        return self._next - 1 + len(self._pending)

    def close(self) -> None:
        self._spool.close()
