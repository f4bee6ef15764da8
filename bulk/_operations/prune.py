"""``--prune``: the apps of a managed team whose names the manifest no longer holds are
deleted, each scaled to 0 active workers first, after ``apply`` has written the rest.

A truncated manifest must never wipe a team, so pruning refuses, before anything is
sent, when a team's rows are all invalid or it has no row at all, and when more apps
would go than ``max_deletes``. Every name a row gives protects its app, valid or not."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from .._output.report import counted
from .._output.results import check_output
from .._running.runner import Outcome
from .._shared.errors import UsageError
from .._validating.payloads import Row
from .delete import DeleteOptions, delete_rows
from .status import listed_teams, manifest_teams

__all__ = [
    "Doomed",
    "check_prunable",
    "default_pruned_output",
    "doomed_apps",
    "doomed_lines",
    "planned_prune",
    "prune_apps",
    "prune_plan",
    "prune_teams",
    "pruning_options",
    "refuse_many",
]


@dataclass(frozen=True, slots=True)
class Doomed:
    """A live app that a prune deletes: its manifest holds no row of its name."""

    team: str  # "" for the key's own apps
    name: str
    app_id: str
    workers: int


def check_prunable(teams: Iterable[str], rows: Mapping[str, int], valid: Iterable[str]) -> None:
    """Refuses a prune of a team with no row (``rows``: team -> rows) or with no valid
    row (``valid``: the teams that have one)."""
    good = set(valid)
    for team in teams:
        owner = f"team {team!r}" if team else "your own apps"
        if not rows.get(team):
            reason = "the manifest has no row for it (an empty or truncated file?)"
        elif team not in good:
            reason = f"all {counted(rows[team], 'row')} of it are invalid"
        else:
            continue
        raise UsageError(f"refusing to prune {owner}: {reason}; nothing was sent")


def doomed_apps(
    names: Mapping[str, set[str]], listed: Mapping[str, list[dict[str, Any]]]
) -> list[Doomed]:
    """The listed apps of each team whose names the manifest does not give."""
    doomed = []
    for team, apps in listed.items():
        for app in apps:
            if str(app.get("name")) not in names.get(team, set()):
                workers = (app.get("configuration") or {}).get("active_workers")
                count = workers if isinstance(workers, int) else 0
                doomed.append(Doomed(team, str(app.get("name")), str(app.get("id")), count))
    return sorted(doomed, key=lambda d: (d.team, d.name, d.app_id))


def refuse_many(doomed: list[Doomed], max_deletes: int) -> None:
    if len(doomed) > max_deletes:
        # Named, so that a truncated manifest shows itself: the apps it would have wiped.
        names = ", ".join(repr(d.name) for d in doomed[:5])
        more = f" and {len(doomed) - 5} more" if len(doomed) > 5 else ""
        raise UsageError(
            f"refusing to prune {counted(len(doomed), 'app')} ({names}{more}): more than the "
            f"{max_deletes} that --max-deletes (max_deletes=) allows; raise it if the manifest "
            "is right; nothing was sent"
        )


def prune_teams(prepared: Any, team_id: str | None) -> tuple[str, ...]:
    """The teams a prune looks at: those of the rows; of an empty manifest, the team it
    would have gone to (which the guard then refuses to prune)."""
    return tuple(prepared.teams) or (team_id or "",)


async def prune_plan(manifest: Any, options: Any) -> list[Doomed]:
    """The apps ``apply --prune`` would delete, after the guards (``UsageError``)."""
    if options.output is not None:  # checked now: once apply has written, it is late
        check_output(default_pruned_output(options.output), inputs=[("manifest", manifest)])
    names, rows, prepared = manifest_teams(manifest, options)
    teams = prune_teams(prepared, options.team_id)
    check_prunable(teams, rows, prepared.sending_teams)
    listed, _ = await listed_teams(teams, options)
    doomed = doomed_apps(names, listed)
    refuse_many(doomed, options.max_deletes)
    return doomed


def planned_prune(
    names: Mapping[str, set[str]],
    rows: Mapping[str, int],
    prepared: Any,
    team_apps: Callable[[str | None], list[dict[str, Any]]],
    options: Any,
) -> list[Doomed]:
    """For ``plan``, from its listings: with ``prune``, the apps apply would delete
    (after the guards); without, those it leaves alone as unmanaged."""
    if not options.prune:
        teams: tuple[str, ...] = tuple(prepared.sending_teams)
    else:
        teams = prune_teams(prepared, options.team_id)
        check_prunable(teams, rows, prepared.sending_teams)
    doomed = doomed_apps(names, {team: team_apps(team or None) for team in teams})
    if options.prune:
        refuse_many(doomed, options.max_deletes)
    return doomed


def doomed_lines(doomed: list[Doomed], action: str, *, limit: int = 30) -> str:
    lines = [
        f"  {'':>8}  {action:<9} {d.name:<32.32} {d.app_id:<12} "
        f"{counted(d.workers, 'active worker')}, not in the manifest"
        for d in doomed[:limit]
    ]
    if len(doomed) > limit:
        lines.append(f"  ... and {len(doomed) - limit} more {action}")
    return "\n".join(lines)


def default_pruned_output(results: str | os.PathLike[str]) -> Path:
    path = Path(results)
    return path.with_name(f"{path.stem}.pruned.csv")


def pruning_options(options: Any, output: str | os.PathLike[str] | None) -> DeleteOptions:
    """A prune deletes as ``delete`` does, against the run's server, as hard as it; a
    journal of its own, beside its results."""
    same = {
        f.name: getattr(options, f.name) for f in fields(DeleteOptions) if hasattr(options, f.name)
    }
    return DeleteOptions(**{**same, "output": output, "dry_run": False, "resume": False})


def _rows(doomed: list[Doomed]) -> list[Row]:
    return [
        Row(number, app.name, app.team or None, op="delete", target=app.app_id, label=number)
        for number, app in enumerate(doomed, 1)
    ]


async def prune_apps(doomed: list[Doomed], manifest: Any, options: DeleteOptions) -> Outcome:
    """Deletes the doomed apps as ``delete`` does (scaled to 0 first, journal, retries);
    their results, delete's columns, go to ``options.output``. The caller closes it."""
    source = "DataFrame" if isinstance(manifest, pd.DataFrame) else str(manifest)
    return await delete_rows([("manifest", manifest)], source, lambda: _rows(doomed), options)
