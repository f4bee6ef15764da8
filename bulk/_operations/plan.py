"""``plan``: what ``apply`` would do to each row, from one listing of each team. It sends
nothing that writes: only ``GET /app``, once per team."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from yarl import URL

from .._http.directory import Directory, conflict_message, listing_client
from .._http.pacing import Pacer
from .._output.report import Report
from .._output.results import Stats, check_output, write_table
from .._running.options import Manifest, RunOptions, takes_options
from .._running.sync import blocking
from .._shared import jsoncodec
from .._shared.config import Settings, resolve_settings
from .._shared.errors import ServiceError, Unsettled
from .._shared.extensions import format_of
from .._validating.compare import Judgement, judge
from .._validating.payloads import Row
from .._validating.prepared import prepare, spool_rows, spooled_rows
from .._validating.spool import Spool
from .prune import Doomed, planned_prune

__all__ = [
    "ACTIONS",
    "PLAN_COLUMNS",
    "PlanTotals",
    "aplan",
    "default_plan_output",
    "plan",
    "plan_frame",
]

PLAN_COLUMNS = ("row", "name", "team_id", "action", "app_id", "changes", "error")
ACTIONS = ("create", "unchanged", "update", "replace", "conflict", "invalid", "delete", "unmanaged")
# What a plan says of a live app no row names: deleted with --prune, else left alone.
UNNAMED = ("delete", "unmanaged")


@dataclass(frozen=True, slots=True)
class PlanTotals:
    """Rows per action, valid rows per GPU tier, active workers before and after."""

    actions: dict[str, int]
    tiers: dict[str, int]
    workers_before: int
    workers_after: int

    def summary(self) -> str:
        rows = sum(n for a, n in self.actions.items() if a not in UNNAMED)
        acts = ", ".join(f"{self.actions[a]} {a}" for a in ACTIONS if self.actions.get(a))
        tiers = ", ".join(f"{n} {tier}" for tier, n in sorted(self.tiers.items())) or "none"
        return (
            f"plan: {rows} rows: {acts or 'nothing to do'}\n"
            f"apps per GPU tier, as the manifest asks: {tiers}\n"
            f"active workers: {self.workers_before} now, {self.workers_after} once applied "
            "(billing starts at 1 active worker per app)"
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    cells: tuple[Any, ...]  # in the order of PLAN_COLUMNS
    tier: str | None = None
    judgement: Judgement | None = None


async def plan_frame(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """``aplan`` taking its options as one object."""
    inputs = [("manifest", manifest), ("LoRA table", options.loras)]
    if not isinstance(manifest, pd.DataFrame):
        format_of(Path(manifest), "manifest")  # a missing or unknown file is said first
    out = None
    if options.output is not None:
        out = check_output(options.output, inputs=inputs, columns=PLAN_COLUMNS)
    settings = resolve_settings(
        base_url=options.base_url,
        api_key=options.api_key,
        api_key_file=options.api_key_file,
        insecure=options.insecure,
    )
    started, started_at, stats = time.monotonic(), datetime.now(UTC), Stats()
    with Spool() as spool:
        prepared = prepare(
            manifest,
            loras=options.loras,
            team_id=options.team_id,
            keep=partial(spool_rows, spool),
            allow_large=options.allow_large,
            max_body_bytes=options.max_body_bytes,
            reading=options.reading,
        )
        directory = await _listed(settings, options, prepared.sending_teams, stats)
        names: dict[str, set[str]] = {}
        rows_of: Counter[str] = Counter()
        entries = []
        for row in spooled_rows(spool):
            names.setdefault(row.team or "", set()).add(row.name)
            rows_of[row.team or ""] += 1
            entries.append(_entry(row, directory))
    doomed = planned_prune(names, rows_of, prepared, directory.team_apps, options)
    frame = pd.DataFrame([e.cells for e in entries], columns=list(PLAN_COLUMNS))
    if isinstance(manifest, pd.DataFrame):
        frame.index = manifest.index  # so that it joins the manifest, as results do
    totals = _totals(entries, doomed, UNNAMED[0] if options.prune else UNNAMED[1])
    frame.attrs.update(totals=totals, summary=totals.summary(), warnings=prepared.warnings)
    frame.attrs["prune"] = doomed
    frame.attrs["output"] = str(write_table(frame, out)) if out is not None else None
    report = Report(
        rows=len(entries),
        counts=dict(totals.actions),
        error_kinds={},
        started_at=started_at,
        finished_at=datetime.now(UTC),
        elapsed=time.monotonic() - started,
        listings=stats.listings,
        throttled=stats.throttled,
        warnings=tuple(prepared.warnings),
        paths={} if out is None else {"plan": str(out.resolve())},
        manifest=prepared.source,
        host=URL(settings.base_url).host,
        teams=prepared.teams,
        workers=totals.workers_after,
        labels=ACTIONS,
    )
    frame.attrs["report"] = report
    return frame


async def _listed(
    settings: Settings, options: RunOptions, teams: tuple[str, ...], stats: Stats
) -> Directory:
    """Each team's apps, listed once: all a plan asks of the server."""
    async with listing_client(settings, options) as client:
        directory = Directory(
            client, Pacer(rate=options.rate), stats=stats, max_retries=options.max_retries
        )
        try:
            await directory.list_each(teams)
        except Unsettled as exc:
            raise ServiceError(
                f"the apps could not be listed, so there is no plan: {exc}", **exc.context()
            ) from None
    return directory


def _entry(row: Row, directory: Directory) -> _Entry:
    if row.error:
        return _Entry((row.number, row.name, row.team, "invalid", None, None, row.error))
    body = jsoncodec.loads(row.payload)
    j = judge(body, directory.listed_apps(row.team, row.name))
    error = conflict_message(row.team, row.name, list(j.ids)) if j.action == "conflict" else j.error
    changes = "; ".join(j.fixed + j.changes) or None
    cells = (row.number, row.name, row.team, j.action, j.app_id, changes, error)
    return _Entry(cells, None if j.error else body["configuration"]["gpu_tier"], j)


def _totals(entries: list[_Entry], doomed: list[Doomed], unnamed: str) -> PlanTotals:
    actions = Counter(e.cells[3] for e in entries)
    actions[unnamed] += len(doomed)
    tiers = Counter(e.tier for e in entries if e.tier is not None)
    judged = [e.judgement for e in entries if e.judgement is not None]
    live = sum(d.workers for d in doomed)  # a pruned app's workers go with it
    return PlanTotals(
        actions={a: actions[a] for a in ACTIONS},
        tiers=dict(tiers),
        workers_before=sum(j.workers_before for j in judged) + live,
        workers_after=sum(j.workers_after for j in judged) + (0 if unnamed == "delete" else live),
    )


@takes_options(RunOptions)
async def aplan(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """What ``apply`` would do to each row, and why: one row per manifest row with its
    ``action`` (create, unchanged, update, replace, conflict, invalid), the live app's
    id and the ``changes``. Lists each team's apps once; writes nothing to the server.
    ``frame.attrs["totals"]`` holds the ``PlanTotals``; ``output=`` also writes the table.
    """
    return await plan_frame(manifest, options)


@takes_options(RunOptions)
def plan(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """``aplan`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(plan_frame, manifest, options)


def default_plan_output(manifest: str | Path) -> Path:
    path = Path(manifest)
    return path.with_name(f"{path.stem}.plan.csv")
