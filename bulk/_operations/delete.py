"""``delete``: roll a run back from its results file. Every app the run created (status
``created``) is scaled to 0 active workers when the listing shows it running, as the docs
ask, then deleted; a 404 means it is gone already. Same pacer, retries, journal,
``--resume`` and Ctrl-C handling as ``create``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .._http.directory import Directory
from .._output.results import Result, Status
from .._reading.records import is_blank
from .._running.control import RunControl
from .._running.existing import Decision
from .._running.journal import Prior
from .._running.options import Target, takes_options
from .._running.runner import Outcome, begin
from .._running.sync import blocking
from .._shared.errors import ManifestError, UsageError
from .._shared.extensions import EXTENSIONS
from .._shared.ids import app_id_problem
from .._validating.payloads import Row
from .._validating.prepared import gather

__all__ = [
    "DeleteOptions",
    "adelete",
    "by_team",
    "cell_text",
    "delete",
    "delete_frame",
    "delete_rows",
    "deletions",
    "execute_delete",
    "read_results",
]

MADE = frozenset({"created"})  # what a run made: all a rollback deletes
EXISTING = frozenset({"exists", "unchanged", "updated", "drifted"})  # --include-existing


@dataclass(frozen=True, kw_only=True)
class DeleteOptions(Target):
    """Everything ``delete`` takes besides the results file (``team_id``: for a results
    file without a team_id column)."""

    include_existing: bool = False
    dry_run: bool = False
    progress: bool = True
    resume: bool = False
    insecure: bool = False
    api_key_file: str | os.PathLike[str] | None = None
    control: RunControl | None = None
    settle_wait: float | None = None  # None: the timeout

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.resume and (self.output is None or self.dry_run):
            raise UsageError("--resume (resume=True) needs a real rollback with --output (output=)")


def deletions(results: str | os.PathLike[str], options: DeleteOptions) -> list[Row]:
    """The rows to delete, from a results file: each with its app id and team."""
    frame = read_results(Path(results))
    wanted = MADE | (EXISTING if options.include_existing else frozenset())
    if "team_id" not in frame and options.team_id is None:
        # Guessing "the key's own apps" would find nothing and call the apps gone.
        raise UsageError(
            f"results file {str(results)!r} has no team_id column (it was written before "
            "bulk recorded teams): pass --team-id T, or add the column (empty for the "
            "key's own apps)"
        )
    teams = frame["team_id"] if "team_id" in frame else [None] * len(frame)
    rows: list[Row] = []
    for number, name, status, app_id, team in zip(
        frame["row"], frame["name"], frame["status"], frame["app_id"], teams, strict=True
    ):
        if status not in wanted:
            continue
        # Numbered 1..n for the run; ``label`` is the row of the results file.
        target = cell_text(app_id)
        rows.append(
            Row(
                len(rows) + 1,
                str(name),
                cell_text(team) or options.team_id,
                error=_undeletable(number, target, dry_run=options.dry_run),
                op="delete",
                target=target,
                label=int(number),
            )
        )
    return rows


def _undeletable(number: Any, target: str | None, *, dry_run: bool) -> str | None:
    """Why a row cannot be deleted before anything is sent, or None."""
    if target is None:
        return f"row {number}: app_id: empty, so there is nothing to delete"
    problem = app_id_problem(target)
    if dry_run and problem is not None:  # a real run: failed, as the server would answer
        return f"row {number}: {problem}"
    return None


def cell_text(value: Any) -> str | None:
    """A results cell as text; None for an empty one, by the one test of an empty cell."""
    return None if is_blank(value) else str(value)


def read_results(path: Path) -> pd.DataFrame:
    kind = EXTENSIONS.get(path.suffix.lower())
    if path.is_dir():
        raise ManifestError(f"results file {str(path)!r} is a folder, not a file")
    if kind is None or not path.is_file():
        raise ManifestError(f"results file {str(path)!r} not found (a .csv, .parquet or .jsonl)")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif kind == "parquet":
            frame = pd.read_parquet(path).astype(object)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except (ValueError, OSError) as exc:
        raise ManifestError(f"results file {str(path)!r} cannot be read: {exc}") from None
    missing = [c for c in ("row", "name", "status", "app_id") if c not in frame]
    if missing:
        raise ManifestError(
            f"results file {str(path)!r} has no {', '.join(map(repr, missing))} column: "
            "is it a bulk results file?"
        )
    return frame


def decide_delete(row: Row, directory: Directory, prior: Prior | None) -> Decision:
    """Deleted already by an earlier run of this journal, or to send: scaled to 0 first
    when the listing shows it running. An app the listing misses still gets its DELETE:
    the 404 says it is gone. An id the listing shows under another name is never deleted."""
    if prior is not None and prior.status in ("deleted", "gone"):
        done: Status = "deleted" if prior.status == "deleted" else "gone"
        return row, Result(row.number, row.name, done, row.target)
    assert row.target is not None, "a row without an id is invalid"
    problem = app_id_problem(row.target)
    if problem is not None:  # a tampered results file: ids stay ids, never paths
        return row, Result(
            row.number, row.name, "failed", row.target, error=problem, error_kind="client"
        )
    app = directory.listed_app(row.team, row.target)
    if app is not None and str(app.get("name")) != row.name:
        # An edited or mixed-up results file: the id belongs to another app now.
        error = (
            f"row {row.label}: app_id: {row.target} is the app {str(app.get('name'))!r} on the "
            f"server, not {row.name!r}, so nothing was deleted; check the results file"
        )
        return row, Result(
            row.number, row.name, "failed", row.target, error=error, error_kind="client"
        )
    scale_down = row.scale_down
    if app is not None:
        workers = (app.get("configuration") or {}).get("active_workers")
        scale_down = not isinstance(workers, int) or workers > 0
    return replace(row, op="delete", scale_down=scale_down), None


async def execute_delete(results: str | os.PathLike[str], options: DeleteOptions) -> Outcome:
    """``adelete`` without the DataFrame; the caller closes the outcome."""
    given: list[tuple[str, object]] = [("results file", results)]
    return await delete_rows(given, str(results), lambda: deletions(results, options), options)


async def delete_rows(
    inputs: list[tuple[str, object]],
    source: str,
    rows_of: Callable[[], list[Row]],
    options: DeleteOptions,
) -> Outcome:
    """Deletes the rows ``rows_of`` makes (once the output and journal are checked), each
    scaled to 0 first when the listing shows it running. The caller closes the outcome."""
    run, settings = begin(options, inputs)
    try:
        rows = rows_of()
        run.results.labels = [row.label for row in rows]
        keep = run.check if settings is None else run.spool
        run.prepared = gather(source, [rows], keep)
        if settings is not None:
            await run.send(settings, options, decide_delete)
        return run.finish()
    except BaseException:
        run.close()
        raise


async def delete_frame(results: str | os.PathLike[str], options: DeleteOptions) -> pd.DataFrame:
    outcome = await execute_delete(results, options)
    try:
        return outcome.frame()
    finally:
        outcome.close()


@takes_options(DeleteOptions)
async def adelete(results: str | os.PathLike[str], options: DeleteOptions) -> pd.DataFrame:
    """Rolls a run back: deletes every app its results file says it created (``created``
    rows; ``include_existing=True`` adds the apps it found), each scaled to 0 active
    workers first. Rows end deleted, gone (already gone: a 404), failed or skipped.
    Calling it is the confirmation: there is no prompt in the library."""
    return await delete_frame(results, options)


@takes_options(DeleteOptions)
def delete(results: str | os.PathLike[str], options: DeleteOptions) -> pd.DataFrame:
    """``adelete`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(delete_frame, results, options)


def by_team(rows: list[Row]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        if not row.error:
            counts[row.team or ""] = counts.get(row.team or "", 0) + 1
    return counts
