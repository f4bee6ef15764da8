"""``wait``: until the apps a run created or changed have settled, ``RUNNING`` with
active workers, ``STOPPED`` without; after ``create --wait`` or ``apply --wait``, or for
an earlier run's results file. The results gain a ``state`` column: the last status
seen, or ``timeout`` (the last status then in ``error``)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from yarl import URL

from .._http.live import live_apps, settings_of
from .._output.report import Report, counted
from .._output.results import COLUMNS, check_output, write_table
from .._running.control import RunControl, catch_signals
from .._running.options import Target, check_wait_timeout, takes_options
from .._running.sync import blocking
from .._shared.config import Settings
from .._shared.errors import Interrupted, UsageError
from .delete import cell_text, read_results
from .settle import Watch, watch

__all__ = [
    "SETTLED",
    "WAITED",
    "WAIT_COLUMNS",
    "WaitOptions",
    "await_apps",
    "default_wait_output",
    "settle_frame",
    "settle_results",
    "wait",
    "wait_frame",
    "wait_report",
    "waited_line",
]

WAITED = frozenset({"created", "updated"})  # the rows whose apps a run created or changed
SETTLED = frozenset({"RUNNING", "STOPPED"})
WAIT_COLUMNS = (*COLUMNS, "state")


@dataclass(frozen=True, kw_only=True)
class WaitOptions(Target):
    """Everything ``wait`` takes besides the results: ``wait_timeout`` bounds the wait;
    ``clock`` and ``sleep`` are what it waits by (tests give virtual ones)."""

    wait_timeout: float = 600
    progress: bool = True
    insecure: bool = False
    api_key_file: str | os.PathLike[str] | None = None
    control: RunControl | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    def __post_init__(self) -> None:
        super().__post_init__()
        check_wait_timeout(self.wait_timeout)


def _watches(frame: pd.DataFrame, team_id: str | None) -> dict[int, Watch]:
    """By position in the frame: the rows whose apps are waited for."""
    teams = frame["team_id"] if "team_id" in frame else [team_id] * len(frame)
    picked = {}
    rows = zip(frame["status"], frame["app_id"], teams, strict=True)
    for at, (status, app_id, team) in enumerate(rows):
        if status in WAITED and cell_text(app_id):
            picked[at] = Watch(cell_text(team) or team_id, str(app_id))
    return picked


async def settle_frame(
    frame: pd.DataFrame, options: Any, settings: Settings | None = None
) -> pd.DataFrame:
    """The results with their ``state`` column, once the apps settled, the time ran
    out, or the control was interrupted (``attrs["interrupted"]``)."""
    started, started_at = time.monotonic(), datetime.now(UTC)
    picked = _watches(frame, options.team_id)
    control = options.control or RunControl()
    clock, sleep = getattr(options, "clock", time.monotonic), getattr(options, "sleep", anyio.sleep)
    settings = settings or settings_of(options)
    async with live_apps(settings, options, clock=clock, sleep=sleep) as live:
        with catch_signals(control):
            await watch(
                list(picked.values()),
                live,
                wait_timeout=options.wait_timeout,
                clock=clock,
                sleep=sleep,
                control=control,
                progress=options.progress,
            )
        listings = live.stats.listings
    out = frame.copy()
    states: list[str | None] = [None] * len(frame)
    errors = list(frame["error"])
    for at, w in picked.items():
        states[at] = w.state or w.last
        errors[at] = w.error or errors[at]
    out["error"], out["state"] = pd.array(errors, dtype="string"), pd.array(states, dtype="string")
    out.attrs["wait"] = wait_report(
        out, picked.values(), started, started_at, listings, URL(settings.base_url).host
    )
    out.attrs["interrupted"] = control.interrupted
    return out


async def settle_results(frame: pd.DataFrame, options: Any) -> pd.DataFrame:
    """After ``create --wait`` or ``apply --wait``: the run's results with their
    ``state``, written over its results file (``attrs["output"]``) when it has one."""
    settled = await settle_frame(frame, options)
    if settled.attrs.get("output"):
        write_table(settled, Path(settled.attrs["output"]))
    return settled


def wait_report(
    frame: pd.DataFrame,
    watches: Any,
    started: float,
    started_at: datetime,
    listings: int,
    host: str | None,
) -> Report:
    counts = Counter(w.state or "interrupted" for w in watches)
    return Report(
        rows=sum(counts.values()),
        counts=dict(counts),
        error_kinds={},
        started_at=started_at,
        finished_at=datetime.now(UTC),
        elapsed=time.monotonic() - started,
        listings=listings,
        host=host,
        teams=tuple(sorted({w.team or "" for w in watches})),
        labels=tuple(sorted(counts)),
    )


def waited_line(report: Report) -> str:
    parts = ", ".join(f"{n} {state}" for state, n in sorted(report.counts.items()))
    return (
        f"waited for {counted(report.rows, 'app')}: {parts or 'none to wait for'} "
        f"in {report.elapsed:.1f} s ({counted(report.listings, 'listing')})"
    )


def default_wait_output(results: str | os.PathLike[str]) -> Path:
    path = Path(results)
    return path.with_name(f"{path.stem}.wait.csv")


async def wait_frame(
    results: str | os.PathLike[str] | pd.DataFrame, options: WaitOptions
) -> pd.DataFrame:
    """``await_apps`` taking its options as one object; the frame keeps ``attrs``."""
    out = None
    if options.output is not None:
        given = [("results file", results)] if not isinstance(results, pd.DataFrame) else []
        out = check_output(options.output, inputs=given, columns=WAIT_COLUMNS)
    frame = results if isinstance(results, pd.DataFrame) else read_results(Path(results))
    missing = [c for c in ("status", "app_id", "error") if c not in frame]
    if missing:
        raise UsageError(f"the results have no {', '.join(missing)} column: are they bulk's?")
    settled = await settle_frame(frame, options)
    if out is not None:
        settled.attrs["output"] = str(write_table(settled, out))
    return settled


@takes_options(WaitOptions)
async def await_apps(
    results: str | os.PathLike[str] | pd.DataFrame, options: WaitOptions
) -> pd.DataFrame:
    """Waits until the apps a run created or updated (its ``created`` and ``updated``
    rows) are ``RUNNING`` (with active workers) or ``STOPPED`` (without), each team
    listed once per round. Returns the results with a ``state`` column: the status
    reached, a failure status (``FAILED``...), or ``timeout`` after ``wait_timeout``
    seconds (the last status in ``error``). ``output=`` also writes the table.
    ``attrs["wait"]`` is the wait's ``Report``. Interrupted: raises ``Interrupted``."""
    return await _raising(results, options)


@takes_options(WaitOptions)
def wait(results: str | os.PathLike[str] | pd.DataFrame, options: WaitOptions) -> pd.DataFrame:
    """``await_apps`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(_raising, results, options)


async def _raising(results: Any, options: WaitOptions) -> pd.DataFrame:
    frame = await wait_frame(results, options)
    if frame.attrs["interrupted"]:
        raise Interrupted(frame)
    return frame
