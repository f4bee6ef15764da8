"""Polling apps until they settle: ``RUNNING`` with active workers, ``STOPPED`` without.

Each round lists each team that still has apps to wait for once (never one GET per
app), so the requests grow with the rounds, not with the apps. The first round comes
after about ``FIRST_ROUND`` seconds; the rounds then back off, with jitter, to about
``LAST_ROUND``. A status that waiting will not change (``FAILED``, ``ERROR``, any
unknown one) ends the wait for that app at once.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio

from .._http.live import Live
from .._running.control import RunControl
from .._shared.errors import ServiceError, Unsettled
from .._shared.logs import log

__all__ = ["FIRST_ROUND", "LAST_ROUND", "PASSING", "Watch", "rounds", "watch"]

FIRST_ROUND, LAST_ROUND = 2.0, 30.0
# Statuses on the way to RUNNING or STOPPED: waiting may change them.
PASSING = frozenset(
    {"INITIALIZING", "STARTING", "PENDING", "QUEUED", "CREATING", "PROVISIONING", "DEPLOYING"}
    | {"BUILDING", "UPDATING", "SCALING", "STOPPING", "RESTARTING", ""}
)


@dataclass
class Watch:
    """One app waited for: the last status seen, and its ``state`` once it has one."""

    team: str | None
    app_id: str
    last: str | None = None
    state: str | None = None  # RUNNING, STOPPED, a failure status, or timeout
    error: str | None = None

    def observe(self, app: dict[str, Any] | None) -> bool:
        """Takes the app as listed (None: not listed, as a lagging listing may do);
        True when that settles it."""
        if app is None:
            return False
        status = str(app.get("status") or "").upper()
        self.last = status or self.last
        workers = (app.get("configuration") or {}).get("active_workers") or 0
        if status == ("RUNNING" if workers else "STOPPED"):
            self.state = status
        elif status not in PASSING | {"RUNNING", "STOPPED"}:
            self.state = status
            self.error = f"app status {status}: waiting will not change it"
        return self.state is not None


def rounds(rng: random.Random) -> Iterator[float]:
    """The pauses before each round: doubling from FIRST_ROUND to LAST_ROUND, each
    drawn within 15% so that many waiters do not list in step."""
    delay = FIRST_ROUND
    while True:
        yield delay * rng.uniform(0.85, 1.15)
        delay = min(delay * 2, LAST_ROUND)


async def watch(
    watches: list[Watch],
    live: Live,
    *,
    wait_timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    control: RunControl,
    rng: random.Random | None = None,
    progress: bool = True,
) -> None:
    """Polls until every app has a state, the time is up, or the control is interrupted
    (the apps still unsettled then keep ``state`` None)."""
    bar = _bar(len(watches), enabled=progress)
    control.bind()
    try:
        async with anyio.create_task_group() as tasks:

            async def stop_when_interrupted() -> None:
                await control.wait_interrupted()
                tasks.cancel_scope.cancel()

            tasks.start_soon(stop_when_interrupted)
            await _poll(watches, live, wait_timeout, clock, sleep, rng or random.Random(), bar)
            tasks.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # the poll's own error, as it was raised
        raise group.exceptions[0] from None
    finally:
        if bar is not None:
            bar.close()
    if control.interrupted:
        return
    for w in watches:
        if w.state is None:
            w.state = "timeout"
            w.error = f"not settled within {wait_timeout:g} s; last status {w.last or 'unseen'}"


async def _poll(
    watches: list[Watch],
    live: Live,
    wait_timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    rng: random.Random,
    bar: Any,
) -> None:
    deadline = clock() + wait_timeout
    for pause in rounds(rng):
        pending = [w for w in watches if w.state is None]
        left = deadline - clock()
        if not pending or left <= 0:
            return
        await sleep(min(pause, left))  # a last round at the deadline itself
        for team in dict.fromkeys(w.team for w in pending):
            listed = await _listing(live, team)
            if listed is None:
                continue
            for w in pending:
                if w.team == team and w.observe(listed.get(w.app_id)) and bar is not None:
                    bar.update(1)


async def _listing(live: Live, team: str | None) -> dict[str, dict[str, Any]] | None:
    """The team's apps by id; None when this round could not list them (the next may)."""
    try:
        apps = await live.apps(team)
    except Unsettled as exc:
        if exc.kind == "auth":
            raise ServiceError(
                f"the key was refused while waiting: {exc}", **exc.context()
            ) from None
        if exc.kind == "client":
            # A redirect, a 404 or paging bulk cannot follow: no round will do better.
            raise ServiceError(f"the apps could not be listed: {exc}", **exc.context()) from None
        whose = f"team {team!r}" if team else "your own apps"
        log.warning(f"warning: could not list {whose} this round: {exc}")
        return None
    return {str(app["id"]): app for app in apps}


def _bar(total: int, *, enabled: bool) -> Any:
    """Apps settled against apps waited for; off when stderr is no terminal."""
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="app", desc="settled", file=sys.stderr, disable=None)
