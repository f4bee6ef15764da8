"""``python -m bulk wait RESULTS``, and the ``--wait`` of ``create`` and ``apply``."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._running.options import RunOptions
from .flags import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS,
    from_args,
    on_target,
    summary_flag,
    summary_path,
    switch,
    target_flags,
    write_summary_of,
)

if TYPE_CHECKING:  # the rest loads when a command runs, so that --help starts at once
    import pandas as pd

    from .._running.runner import Outcome

__all__ = ["after_run", "wait_exit", "wait_flags", "wait_parser"]


def wait_flags(p: argparse.ArgumentParser, *, switched: bool = True) -> None:
    if switched:
        switch(
            p,
            "--wait",
            "then wait until the apps created or changed are RUNNING (with active workers) "
            "or STOPPED (without); exit 1 when any failed or timed out",
        )
    p.add_argument(
        "--wait-timeout",
        type=float,
        default=RunOptions.wait_timeout,
        metavar="S",
        help="seconds to wait at most; the apps not settled by then end 'timeout'",
    )


def wait_parser(commands: Any) -> None:
    p = commands.add_parser(
        "wait",
        help="wait until the apps of an earlier run's results are RUNNING or STOPPED",
        description="Wait until the apps a run created or updated have settled: RUNNING "
        "with active workers, STOPPED without. Each team is listed once per round, the "
        "first after about 2 s, then backing off to about 30 s.",
    )
    p.add_argument("results", help="a results file of create or apply (.csv, .parquet, .jsonl)")
    p.add_argument(
        "-o", "--output", help="results with their state column; default <results stem>.wait.csv"
    )
    p.add_argument(
        "--team-id", help="team of every app, for a results file that has no team_id column"
    )
    wait_flags(p, switched=False)
    target_flags(p)
    switch(p, "-q", "--quiet", "no progress bar")
    summary_flag(p, "the wait's report as JSON")
    p.set_defaults(func=_wait)


def _wait(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio

    from .._operations.wait import WaitOptions, default_wait_output, wait_frame
    from .._running.control import RunControl

    output = args.output or default_wait_output(args.results)
    summary = summary_path(args, args.results, str(output))
    control = RunControl(signals=(signal.SIGINT, signal.SIGTERM))
    options = from_args(WaitOptions, args, output=output, progress=not args.quiet, control=control)
    frame = anyio.run(on_target, args, options, lambda o: wait_frame(args.results, o))
    code = wait_exit(frame, EXIT_OK)
    print(f"results: {frame.attrs['output']}")
    return write_summary_of(summary, frame.attrs["wait"], argv, code)


async def after_run(outcome: Outcome, options: RunOptions) -> pd.DataFrame | None:
    """``--wait``: the run's results with their state, once it is over (not when it
    was a dry run, was stopped or interrupted: there is nothing sure to wait for)."""
    from .._operations.wait import settle_results

    report = outcome.report
    if not options.wait or options.dry_run or report.stopped or report.interrupted:
        return None
    return await settle_results(outcome.frame(), options)


def wait_exit(settled: pd.DataFrame | None, code: int) -> int:
    """Says how the wait ended; 130 when interrupted, 1 when an app failed or timed out."""
    if settled is None:
        return code
    from .._operations.wait import SETTLED, waited_line

    waited = settled[settled["state"].notna()]
    for row, name, state, error in zip(
        waited["row"], waited["name"], waited["state"], waited["error"], strict=True
    ):
        if state not in SETTLED:
            print(f"  row {row:>4}  {state:<12} {name!s:<32.32} {error or ''}".rstrip())
    print(waited_line(settled.attrs["wait"]))
    if settled.attrs["interrupted"]:
        return EXIT_INTERRUPTED
    if code == EXIT_OK and not set(waited["state"]) <= SETTLED:
        return EXIT_ROWS
    return code
