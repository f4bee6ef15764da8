"""Step 4: pacing. One pacer per run, shared by every worker and every retry.

The rate limit belongs to the API key, not to a worker, so a 429 slows the whole pool:

* the pool learns the server's sustainable rate from the successes it had just before
  the 429 (over the last ``window`` seconds), and holds just under it (``margin``);
  while it knows too little for that (the first burst of a run), the rate drops to
  ``beta`` times what was being sent. After ``hold`` seconds without a 429 it goes
  straight back to just under the rate it was sending when the last 429 came (the
  first burst of a run cuts several times in a row, far below the limit), then probes
  ``probe`` higher each second, so it finds a limit that rose, rarely meeting a 429;
* a Retry-After pauses every new request, for no longer than the limit requires:
  servers round it up to whole seconds (or to an HTTP date), so the pool pauses one
  second less than it says, and at least one slot of the new rate. The request that
  met it waits with the pool: pausing it alone for the full header would cost a second
  per 429 and leave its worker idle.
* a fixed cap (``rate``) is kept by virtual scheduling (GCRA): each request has a slot
  on the ideal timeline ``1 / rate`` apart, and is let through from one slot before its
  own. Over any window of W seconds at most ``rate * W + 1`` requests go out, and a late
  wake-up is made up by the next request instead of being lost for good, so a long run
  keeps the full rate.

The clock and the sleep function are parameters, so tests never wait.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio

from .._shared.logs import TRACE, note

__all__ = ["Pacer"]


class Pacer:
    """Admits requests no faster than the cap, and adapts to 429 answers."""

    def __init__(
        self,
        *,
        rate: float = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        beta: float = 0.7,
        margin: float = 0.95,
        window: float = 2.0,
        hold: float = 2.0,
        probe: float = 0.05,
        min_rate: float = 0.5,
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be 0 (no cap) or more, got {rate!r}")
        self._cap = rate or math.inf
        self._clock, self._sleep = clock, sleep
        self._beta, self._margin, self._min_rate = beta, margin, min_rate
        self._window, self._hold, self._probe = window, hold, probe
        self._adaptive = math.inf  # no limit of its own until the first 429
        self._tat = -math.inf  # theoretical arrival time of the next request (GCRA)
        self._lock = anyio.Lock()
        self.paused_until = -math.inf
        self._successes: deque[float] = deque()  # when recent successes came back
        self._started = clock()
        self._probe_at = math.inf
        self._last_decrease = -math.inf
        self._ceiling = 0.0  # the rate being sent when the last 429 came
        self._bucket_start = clock()
        self._bucket_count = 0
        self.measured = 0.0  # smoothed requests per second actually admitted
        self.throttles = 0

    @property
    def rate(self) -> float:
        """The requests per second admitted now (inf: no limit)."""
        return min(self._cap, self._adaptive)

    async def acquire(self) -> float:
        """Waits until a request may go; returns that moment.

        Requests are let through one at a time, each from one slot before its place on
        the ideal timeline; a timeline that fell behind the clock (a stalled loop, an
        idle pool) restarts from now, so no burst of slots that fell due meanwhile is
        released. The rate and any pause are read afresh after every wait: a 429 that
        lowers them holds back even the requests already waiting.
        """
        now = self._clock()
        if self.rate == math.inf and self.paused_until <= now:
            self._admit(now)  # no limit known: no queue either
            return now
        async with self._lock:
            while True:
                now = self._clock()
                due = max(self._tat - 1 / self.rate, self.paused_until)
                if due <= now:
                    break
                await self._sleep(due - now)
            self._admit(now)
            return now

    def _admit(self, now: float) -> None:
        if self.rate != math.inf:
            self._tat = max(self._tat, now) + 1 / self.rate
        self._count(now)

    def _count(self, now: float) -> None:
        elapsed = now - self._bucket_start
        if elapsed >= 0.5:
            # Smoothing as in the AWS SDKs: recent buckets weigh most.
            self.measured = 0.8 * (self._bucket_count / elapsed) + 0.2 * self.measured
            self._bucket_start, self._bucket_count = now, 0
        self._bucket_count += 1

    def _sending(self, now: float) -> float:
        """Requests per second the pool is sending: the smoothed rate, or the open bucket's
        while it is higher (early in a run, before the first bucket has closed)."""
        return max(self.measured, self._bucket_count / max(now - self._bucket_start, 0.05))

    def _retune(self, adaptive: float, now: float) -> None:
        """Sets the learnt rate. The slots already handed out keep their number, not
        their length: else a lower rate would stretch the one slot of tolerance and let
        a request through early, right after a 429."""
        old = self.rate
        self._adaptive = adaptive
        new = self.rate
        note(TRACE, "pacer rate", rate_from=round(old, 2), rate_to=round(new, 2))
        if self._tat > now and math.isfinite(old) and new != old:
            self._tat = now + (self._tat - now) * old / new

    def on_success(self) -> None:
        now = self._clock()
        self._successes.append(now)
        while self._successes[0] < now - self._window:
            self._successes.popleft()
        if now >= self._probe_at:
            back = self._margin * self._ceiling
            self._retune(max(self._adaptive * (1 + self._probe), back), now)
            self._ceiling = 0.0  # once: then only probes
            self._probe_at = now + 1.0

    def _learnt(self, now: float) -> float | None:
        """Successes per second over the last window: what the server sustains, when
        the pool was sending faster than that. None while the window says too little."""
        span = min(self._window, now - self._started)
        recent = sum(1 for t in self._successes if t > now - span)
        if span < 0.25 or recent < 4:
            return None
        return recent / span

    def on_throttle(self, *, sent_at: float, retry_after: float | None = None) -> None:
        """A 429 for a request that ``acquire`` let through at ``sent_at``."""
        now = self._clock()
        self.throttles += 1
        if sent_at >= self._last_decrease:  # else the last decrease already answered it
            # Cut to beta of what was sent, but never below what the server was seen to
            # sustain: workers that sat out a Retry-After sent less than it allows.
            sending = min(self.rate, self._sending(now))
            rate = self._beta * sending
            learnt = self._learnt(now)
            if learnt is not None:
                rate = max(rate, self._margin * learnt)
            # What to come back to after the hold: the server's rate when it is known,
            # else the last rate sent (a cascade of cuts at the start overshoots down).
            self._ceiling = sending if learnt is None else learnt
            self._retune(max(self._min_rate, rate), now)
            self._last_decrease, self._probe_at = now, now + self._hold
        if retry_after is not None and retry_after > 0:
            pause = max(min(retry_after, 1 / self.rate), retry_after - 1.0)
            self.paused_until = max(self.paused_until, now + pause)
            note(TRACE, "pacer pause", seconds=round(pause, 3), retry_after=retry_after)
