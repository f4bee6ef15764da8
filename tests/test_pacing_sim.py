"""The adaptive pacer against a simulated token-bucket server, on an injected clock:
it converges near the server's limit with few 429s, and Retry-After costs little."""

from __future__ import annotations

import asyncio
import math
from email.utils import formatdate, parsedate_to_datetime

import pytest

from bulk._http.pacing import Pacer

from .helpers import FakeClock

WALL = 1_700_000_000.3  # the simulated server's wall clock at the start, mid-second


class TokenBucketServer:
    """Answers 429 with a whole-second Retry-After (seconds, or an HTTP date) when its
    bucket is empty, as real rate limiters do."""

    def __init__(self, clock: FakeClock, rate: float, burst: float, form: str) -> None:
        self.clock, self.rate, self.burst, self.form = clock, rate, burst, form
        self.tokens, self.last = burst, clock()
        self.answers: list[tuple[float, int]] = []

    def post(self) -> float | None:
        """None when accepted, else the Retry-After the client reads, in seconds."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.answers.append((now, 200))
            return None
        self.answers.append((now, 429))
        wait = max(1, math.ceil((1 - self.tokens) / self.rate))
        if self.form == "seconds":
            return float(wait)
        wall = WALL + now - 1000.0
        header = formatdate(wall + wait, usegmt=True)  # whole seconds, as on the wire
        return max(0.0, parsedate_to_datetime(header).timestamp() - wall)


def simulate(limit, burst, rows, workers, form, latency=0.002):
    clock = FakeClock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    server = TokenBucketServer(clock, limit, burst, form)
    left = rows

    async def worker():
        nonlocal left
        while left > 0:
            left -= 1
            while True:
                sent = await pacer.acquire()
                await clock.sleep(latency)
                retry_after = server.post()
                if retry_after is None:
                    pacer.on_success()
                    break
                pacer.on_throttle(sent_at=sent, retry_after=retry_after)

    async def main():
        await asyncio.gather(*(worker() for _ in range(workers)))

    asyncio.run(main())
    return clock() - 1000.0, server.answers


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_converges_within_a_tenth_of_the_limit_with_at_most_2_percent_429s(form):
    elapsed, answers = simulate(limit=100, burst=10, rows=3000, workers=8, form=form)
    throttled = sum(status == 429 for _, status in answers)
    assert throttled <= 0.02 * len(answers), throttled
    second_half = [t for t, status in answers if status == 200 and t - 1000 > elapsed / 2]
    rate = len(second_half) / (elapsed / 2)
    assert 90 <= rate <= 101, rate
    assert elapsed <= 1.1 * 30


def test_a_retry_after_as_an_http_date_costs_little_time():
    elapsed, _ = simulate(limit=30, burst=5, rows=150, workers=16, form="date")
    assert elapsed <= 1.5 * 5, elapsed
