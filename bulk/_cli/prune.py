"""``--prune`` on ``plan`` and ``apply``: the flags, the guards' questions, the deletes."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._running.options import Manifest, RunOptions
from .._shared.errors import UsageError
from .delete import confirmed
from .flags import show, switch

if TYPE_CHECKING:  # the rest loads when a command runs, so that --help starts at once
    from .._operations.prune import Doomed
    from .._output.report import Report
    from .._running.runner import Outcome

__all__ = ["prune_after", "prune_before", "prune_flags", "show_pruned", "with_pruned"]


def prune_flags(p: argparse.ArgumentParser, *, asks: bool) -> None:
    switch(
        p,
        "--prune",
        "delete (each scaled to 0 workers first) the apps of the manifest's teams that no "
        "row names; refused for a team whose rows are all invalid or that has none",
    )
    p.add_argument(
        "--max-deletes",
        type=int,
        default=RunOptions.max_deletes,
        metavar="N",
        help="--prune refuses to delete more than N apps",
    )
    if asks:
        switch(p, "-y", "--yes", "prune without asking (needed when not on a terminal)")


async def prune_before(
    args: argparse.Namespace, manifest: Manifest, options: RunOptions
) -> list[Doomed] | None:
    """Before apply writes anything: the apps to prune, past every guard, and the yes."""
    if not options.prune:
        return None
    from .._operations.prune import doomed_lines, prune_plan

    doomed = await prune_plan(manifest, options)
    if doomed:
        print(f"will prune {len(doomed)} apps no row names:")
        print(doomed_lines(doomed, "delete"))
        if not args.yes and not confirmed(len(doomed), listing="plan --prune"):
            raise UsageError("the prune was not confirmed; nothing was sent")
    return doomed


async def prune_after(
    doomed: list[Doomed] | None, outcome: Outcome, manifest: Any, options: RunOptions
) -> Outcome | None:
    """Once apply has written the rest (and was not stopped): the deletes."""
    report = outcome.report
    if not doomed or report.stopped or report.interrupted:
        return None
    from .._operations.prune import default_pruned_output, prune_apps, pruning_options

    out = None if options.output is None else default_pruned_output(options.output)
    return await prune_apps(doomed, manifest, pruning_options(options, out))


def show_pruned(pruned: Outcome | None, code: int) -> int:
    if pruned is None:
        return code
    try:
        print("pruned:")
        show(pruned)
    finally:
        pruned.close()
    return code or (0 if pruned.report.succeeded else 1)


def with_pruned(report: Report, pruned: Outcome | None) -> Report:
    """The run's report, its requests and files counting the prune's."""
    if pruned is None:
        return report
    more = pruned.report
    return replace(
        report,
        puts=report.puts + more.puts,
        deletes=report.deletes + more.deletes,
        listings=report.listings + more.listings,
        retries=report.retries + more.retries,
        paths={**report.paths, "pruned": more.paths.get("results", "")},
        pruned={s: n for s, n in more.counts.items() if n},
    )
