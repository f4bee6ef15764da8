"""The commands that read a manifest: ``create``, ``plan`` and ``apply``."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._running.options import RunOptions
from .._shared.logs import log
from .flags import (
    EXIT_OK,
    EXIT_ROWS,
    exit_code,
    from_args,
    on_target,
    reading_flags,
    sending_flags,
    show,
    summary_flag,
    summary_path,
    switch,
    target_flags,
    write_summary_of,
)
from .prune import prune_after, prune_before, prune_flags, show_pruned, with_pruned
from .wait import after_run, wait_exit, wait_flags

if TYPE_CHECKING:  # the rest loads when a command runs, so that --help starts at once
    import pandas as pd

    from .._running.runner import Outcome

__all__ = ["apply_parser", "create_parser", "plan_parser"]

EXIT_CHANGES = 4  # plan --detailed-exitcode: the plan would change something


def _sending_parser(commands: Any, name: str, text: str, description: str, extra: str = "") -> Any:
    """A command that reads a manifest and writes to the server: create or apply."""
    p = commands.add_parser(name, help=text, description=description)
    reading_flags(p)
    _results_flag(p, extra)
    target_flags(p)
    sending_flags(p)
    _cost_flags(p)
    wait_flags(p)
    p.set_defaults(func=_send, mode=name)
    return p


def create_parser(commands: Any) -> None:
    p = _sending_parser(
        commands,
        "create",
        "create the apps of the manifest that the team does not have",
        "Create one RunGen.AI app per manifest row, exactly once.",
        "<manifest stem>.dry-run.csv with --dry-run",
    )
    switch(p, "--dry-run", "validate and build every body; send nothing")
    p.add_argument(
        "--skip-existing",
        action=argparse.BooleanOptionalAction,
        default=RunOptions.skip_existing,
        help="rows whose name the team already has end 'exists' with that app's id and "
        "are not sent; --no-skip-existing creates a second app of that name",
    )


def apply_parser(commands: Any) -> None:
    p = _sending_parser(
        commands,
        "apply",
        "create what is missing and update what differs, from a fresh plan",
        "Bring the team's apps to the manifest: create the missing ones, update the ones "
        "that differ in fields an update can change, and report the rest.",
    )
    prune_flags(p, asks=True)


def plan_parser(commands: Any) -> None:
    p = commands.add_parser(
        "plan",
        help="show what apply would do to each row; change nothing",
        description="Compare the manifest with the team's live apps, row by row; send "
        "nothing that writes.",
    )
    reading_flags(p)
    p.add_argument(
        "-o",
        "--output",
        help="plan file (.csv, .parquet, .jsonl); default <manifest stem>.plan.csv",
    )
    target_flags(p)
    switch(
        p,
        "--detailed-exitcode",
        f"exit {EXIT_CHANGES} when the plan would create, update or replace anything",
    )
    switch(p, "--allow-large", "allow more than 1,000 active workers in one row")
    switch(p, "-q", "--quiet", "print the totals only, not the rows")
    summary_flag(p, "the plan's report as JSON")
    prune_flags(p, asks=False)
    p.set_defaults(func=_plan)


def _results_flag(p: argparse.ArgumentParser, extra: str = "") -> None:
    p.add_argument(
        "-o",
        "--output",
        help="results file (.csv, .parquet, .jsonl); default: <manifest stem>.results.csv "
        "beside the manifest" + (f" ({extra})" if extra else ""),
    )


def _cost_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-active-workers",
        type=int,
        metavar="N",
        help="refuse, before sending anything, when the apps created or raised would ask "
        "for more than N active workers in all (default: $RUNGEN_MAX_ACTIVE_WORKERS)",
    )
    switch(p, "--allow-large", "allow more than 1,000 active workers in one row")


def _send(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio

    from .._output.results import default_output
    from .._running.control import RunControl
    from .._running.runner import execute

    dry_run = getattr(args, "dry_run", False)
    output = args.output or default_output(args.manifest, dry_run=dry_run)
    summary = summary_path(args, str(output))
    control = RunControl(signals=(signal.SIGINT, signal.SIGTERM))
    options = from_args(
        RunOptions,
        args,
        output=output,
        progress=not args.quiet,
        control=control,
    )

    async def work(options: RunOptions) -> tuple[Outcome, Outcome | None, pd.DataFrame | None]:
        doomed = await prune_before(args, args.manifest, options)
        outcome = await execute(args.manifest, options, mode=args.mode)
        try:
            pruned = await prune_after(doomed, outcome, args.manifest, options)
            return outcome, pruned, await after_run(outcome, options)
        except BaseException:
            outcome.close()
            raise

    outcome, pruned, settled = anyio.run(on_target, args, options, work)
    try:
        show(outcome, dry_run=dry_run)
    finally:
        outcome.close()
    code = show_pruned(pruned, exit_code(outcome.report, argv))
    code = wait_exit(settled, code)
    report = with_pruned(outcome.report, pruned)
    if settled is not None:
        report = replace(report, waited=dict(settled.attrs["wait"].counts))
    return write_summary_of(summary, report, argv, code)


def _plan(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio

    from .._operations.plan import default_plan_output, plan_frame
    from .._operations.prune import doomed_lines

    output = args.output or default_plan_output(args.manifest)
    summary = summary_path(args, args.manifest, args.loras, str(output))
    options = from_args(RunOptions, args, output=output, progress=False)
    frame = anyio.run(on_target, args, options, lambda o: plan_frame(args.manifest, o))
    for warning in frame.attrs["warnings"]:
        log.warning(f"warning: {warning}")
    if not args.quiet:
        print(_plan_rows(frame))
        if frame.attrs["prune"]:
            print(doomed_lines(frame.attrs["prune"], "delete" if args.prune else "unmanaged"))
    print(frame.attrs["summary"])
    print(f"plan file: {frame.attrs['output']}")
    return write_summary_of(summary, frame.attrs["report"], argv, _plan_exit(frame, args))


def _plan_exit(frame: pd.DataFrame, args: argparse.Namespace) -> int:
    actions = set(frame["action"])
    if actions & {"invalid", "conflict"}:
        return EXIT_ROWS
    if args.detailed_exitcode and args.prune and frame.attrs["prune"]:
        return EXIT_CHANGES
    if args.detailed_exitcode and actions & {"create", "update", "replace"}:
        return EXIT_CHANGES
    return EXIT_OK


def _plan_rows(frame: pd.DataFrame, *, limit: int = 30) -> str:
    """Every row when there are few; else the rows that would change or need a person."""
    from .._output.progress import printable

    shown = frame if len(frame) <= limit else frame[frame["action"] != "unchanged"]
    lines = []
    for row, name, _, action, app_id, changes, error in shown.head(limit).itertuples(index=False):
        detail = error if isinstance(error, str) else changes if isinstance(changes, str) else ""
        app = app_id if isinstance(app_id, str) else ""
        lines.append(
            f"  row {row:>4}  {action:<9} {printable(name):<32.32} {app:<12} {detail}".rstrip()
        )
    if len(shown) > limit:
        lines.append(f"  ... and {len(shown) - limit} more: see the plan file")
    return "\n".join(lines)
