"""``python -m bulk delete RESULTS``: roll a run back, after showing what goes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._shared.errors import UsageError
from .._shared.logs import log
from .flags import (
    EXIT_OK,
    EXIT_ROWS,
    exit_code,
    from_args,
    on_target,
    sending_flags,
    show,
    summary_path,
    switch,
    target_flags,
    write_summary_of,
)

if TYPE_CHECKING:  # the rest loads when the command runs, so that --help starts at once
    from .._validating.payloads import Row

__all__ = ["confirmed", "delete_parser"]


def delete_parser(commands: Any) -> None:
    p = commands.add_parser(
        "delete",
        help="roll a run back: delete the apps its results file says it created",
        description="Delete every app a run created (the 'created' rows of its results "
        "file), each scaled to 0 active workers first. Asks before it deletes.",
    )
    p.add_argument("results", help="a results file of create or apply (.csv, .parquet, .jsonl)")
    p.add_argument(
        "-o", "--output", help="results of the rollback; default <results stem>.deleted.csv"
    )
    p.add_argument(
        "--team-id", help="team of every app, for a results file that has no team_id column"
    )
    switch(p, "--include-existing", "also delete the apps the run found (exists, unchanged...)")
    switch(p, "-y", "--yes", "delete without asking (needed when not on a terminal)")
    switch(p, "--dry-run", "list the apps that would be deleted; send nothing")
    target_flags(p)
    sending_flags(p)
    p.set_defaults(func=_delete)


def _delete(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio

    from .._operations.delete import DeleteOptions, deletions, execute_delete
    from .._output.progress import printable
    from .._output.results import check_output
    from .._running.control import RunControl

    output = args.output or default_deleted_output(args.results)
    summary = summary_path(args, args.results, str(output))
    control = RunControl(signals=(signal.SIGINT, signal.SIGTERM))
    options = from_args(
        DeleteOptions, args, output=output, progress=not args.quiet, control=control
    )
    if not args.dry_run:  # said before anything is announced, let alone asked
        check_output(output, inputs=[("results file", args.results)])
    rows = deletions(args.results, options)
    print(_announce(rows))
    if args.dry_run or not rows:
        for row in rows:
            line = f"  row {row.label:>4}  {row.target or '':<14} {printable(row.name):<32.32}"
            print(f"{line} {row.error or ''}".rstrip())
        return EXIT_OK
    if not args.yes and not confirmed(len(rows)):
        log.warning("nothing was deleted")
        return EXIT_ROWS
    outcome = anyio.run(on_target, args, options, lambda o: execute_delete(args.results, o))
    try:
        show(outcome)
    finally:
        outcome.close()
    return write_summary_of(summary, outcome.report, argv, exit_code(outcome.report, argv))


def _announce(rows: list[Row]) -> str:
    from .._operations.delete import by_team
    from .._output.report import counted

    teams = by_team(rows)
    if not teams:
        return "nothing to delete: the results file holds no app this run created"
    parts = [f"{n} of team {team!r}" if team else f"{n} of your own" for team, n in teams.items()]
    return f"will delete {counted(sum(teams.values()), 'app')}: {', '.join(parts)}"


def confirmed(count: int, *, listing: str = "--dry-run") -> bool:
    """Asks on a terminal; elsewhere refuses: only --yes deletes unattended."""
    from .._output.report import counted

    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to delete {counted(count, 'app')} without a yes: not on a terminal; "
            f"pass --yes (or {listing} to list them)"
        )
    # The question goes to stderr, as the warnings do: with stdout sent to a file, the
    # user still sees what is asked.
    print(f"Delete {counted(count, 'app')}? This cannot be undone. [y/N] ", end="", file=sys.stderr)
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def default_deleted_output(results: str) -> Path:
    path = Path(results)
    return path.with_name(f"{path.stem}.deleted.csv")
