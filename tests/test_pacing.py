"""The pacer and the retry budget, on an injected clock: no test here waits."""

from __future__ import annotations

import math

import anyio
import pytest

from bulk._http.breaker import RetryBudget
from bulk._http.pacing import Pacer

from .helpers import FakeClock, max_in_window

pytestmark = pytest.mark.anyio


async def admit(pacer: Pacer, n: int) -> list[float]:
    """The moments at which requests were let through."""
    times = []
    for _ in range(n):
        await pacer.acquire()
        times.append(pacer._clock())
    return times


async def test_no_cap_and_no_throttle_admits_at_once(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    await admit(pacer, 100)
    assert clock.slept == [] and pacer.rate == math.inf


async def test_fixed_cap_spaces_requests(clock):
    pacer = Pacer(rate=10, clock=clock, sleep=clock.sleep)
    times = await admit(pacer, 50)
    assert max_in_window(times, 1.0) <= 11
    assert times[-1] - times[0] == pytest.approx(4.8)  # one slot of tolerance at the start


async def test_late_wake_ups_are_made_up_so_a_long_run_keeps_the_full_rate(clock):
    """Every sleep overshoots by up to 90% of a slot, as on a busy machine: the ideal
    timeline absorbs it. Spacing each request after the last one would lose it all."""
    import random

    rng = random.Random(4)
    rate = 200.0

    async def late_sleep(seconds):
        await clock.sleep(seconds + rng.uniform(0, 0.9 / rate))

    pacer = Pacer(rate=rate, clock=clock, sleep=late_sleep)
    times = await admit(pacer, 3000)
    mean = (len(times) - 1) / (times[-1] - times[0])
    assert mean >= 0.98 * rate, mean
    assert max_in_window(times, 1.0) <= rate + 1


async def test_cap_is_shared_by_concurrent_workers(clock):
    pacer = Pacer(rate=5, clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def worker():
        times.extend(await admit(pacer, 10))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(worker)
    assert len(times) == 80 and max_in_window(times, 1.0) <= 6
    assert max_in_window(times, 10.0) <= 51


async def test_retry_after_pauses_every_new_request_no_longer_than_the_limit_needs(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    sent = await pacer.acquire()
    pacer.on_throttle(sent_at=sent, retry_after=3.0)
    # Whole seconds are rounded up by the server: the pool waits one second less.
    assert (await admit(pacer, 1))[0] == pytest.approx(sent + 2.0)
    sent = await pacer.acquire()
    pacer.on_throttle(sent_at=sent, retry_after=1.0)
    waited = (await admit(pacer, 1))[0] - sent
    assert 0 < waited <= 1 / pacer.rate + 1e-9  # one slot of the new rate, not a second


async def test_a_pause_that_arrives_while_waiting_sends_the_waiter_back_in_line():
    clock = FakeClock()
    pacer = Pacer(rate=1, clock=clock, sleep=clock.sleep)
    first = await pacer.acquire()
    await pacer.acquire()  # the one slot of tolerance: the next request must wait

    async def sleep_then_pause(seconds):
        pacer.paused_until = clock.now + 5  # a 429 with Retry-After came in meanwhile
        pacer._sleep = clock.sleep
        await clock.sleep(seconds)

    pacer._sleep = sleep_then_pause
    assert (await admit(pacer, 1))[0] >= first + 5


async def test_a_429_holds_just_under_the_rate_the_server_sustained_then_probes(clock):
    pacer = Pacer(rate=0, clock=clock, sleep=clock.sleep)
    for _ in range(100):  # 50 successes a second come back for two seconds
        clock.now += 0.02
        await pacer.acquire()
        pacer.on_success()
    pacer.measured = 60.0  # sending faster than the server sustained; 0.7 of it is less
    pacer.on_throttle(sent_at=clock(), retry_after=None)
    assert pacer.rate == pytest.approx(0.95 * 50, rel=0.03)
    held = pacer.rate
    rates = []
    for _ in range(100):  # five seconds with no 429
        clock.now += 0.05
        pacer.on_success()
        rates.append(pacer.rate)
    assert rates[:35] == [held] * 35  # held for two seconds
    assert rates == sorted(rates) and rates[-1] == pytest.approx(held * 1.05**3, rel=0.01)


async def test_many_429s_from_one_burst_cut_the_rate_once(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.measured = 200.0
    sent = [await pacer.acquire() for _ in range(8)]
    clock.now += 0.01
    for s in sent:
        pacer.on_throttle(sent_at=s)
    assert pacer.rate == pytest.approx(140.0)
    later = await pacer.acquire()
    clock.now += 0.01
    pacer.on_throttle(sent_at=later)
    assert pacer.rate == pytest.approx(140.0 * 0.7)


async def test_cap_still_backs_off_and_is_never_exceeded(clock):
    pacer = Pacer(rate=10, clock=clock, sleep=clock.sleep)
    pacer.measured = 10.0
    pacer.on_throttle(sent_at=clock())
    assert pacer.rate == pytest.approx(7.0)
    for _ in range(200):
        clock.now += 0.5
        pacer.measured = 1000.0
        pacer.on_success()
    assert pacer.rate == 10


async def test_early_throttle_estimates_the_rate_from_the_open_bucket(clock):
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await pacer.acquire()
        clock.now += 0.02
    pacer.on_throttle(sent_at=clock())
    assert pacer.rate == pytest.approx(0.7 * 10 / 0.2)


async def test_a_lower_rate_after_a_429_never_lets_the_next_request_out_early(clock):
    # Found by the window property: at 1/s two requests share the first slot's
    # tolerance; a 429 then lowered the rate, and a longer slot let the third out at
    # 0.57 s: three requests within one second at a cap of one per second.
    pacer = Pacer(rate=1.0, clock=clock, sleep=clock.sleep)
    times = [await pacer.acquire(), await pacer.acquire()]
    pacer.on_throttle(sent_at=times[-1], retry_after=0.5)
    times.append(await pacer.acquire())
    assert times[2] - times[0] >= 1.0


def test_rate_must_not_be_negative():
    with pytest.raises(ValueError, match="rate must be 0"):
        Pacer(rate=-1)


def test_budget_trips_when_nearly_everything_fails():
    budget = RetryBudget(window=20)
    for _ in range(19):
        budget.record(ok=False)
    assert not budget.exhausted  # not enough evidence yet
    budget.record(ok=False)
    assert budget.exhausted and budget.describe() == "20 of the last 20 attempts failed"


def test_budget_never_trips_on_a_minority_of_failures():
    budget = RetryBudget(window=20)
    for i in range(10_000):
        budget.record(ok=i % 4 != 0)  # a quarter fail
        assert not budget.exhausted


def test_budget_recovers_when_answers_come_back():
    budget = RetryBudget(window=10)
    for _ in range(10):
        budget.record(ok=False)
    for _ in range(2):
        budget.record(ok=True)
    assert not budget.exhausted


async def test_after_a_cascade_of_cuts_at_the_start_it_comes_straight_back(clock):
    """The first burst of a run meets 429s round trip after round trip before anything
    is known, cutting far below the limit; after the hold the pool goes back to just
    under the rate it was sending at the last cut, not 5% a second."""
    pacer = Pacer(rate=0, clock=clock, sleep=clock.sleep)
    for _ in range(3):  # three round trips, each cut anew: nothing learnt yet
        clock.now += 0.005
        sent = await pacer.acquire()
        pacer.measured = 100.0
        pacer.on_throttle(sent_at=sent)
    cut = pacer.rate
    assert cut == pytest.approx(0.7**3 * 100)  # 100 -> 70 -> 49 -> 34.3
    rates = []
    while clock.now < 1003.0:
        clock.now += 1 / cut
        await pacer.acquire()
        pacer.on_success()
        rates.append(pacer.rate)
    assert rates[0] == pytest.approx(cut)  # held for two seconds, then one step:
    assert sorted(set(rates)) == [rates[0], rates[-1]]
    assert rates[-1] == pytest.approx(0.95 * 49)  # the last rate sent, less the margin
