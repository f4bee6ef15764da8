"""``status``: the live apps of a team (or of the teams a manifest names), one listing
per team, as a table; with a manifest, ``managed`` says whether it names the app."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from yarl import URL

from .._http.live import live_apps, settings_of
from .._output.report import Report, counted
from .._output.results import check_output, write_table
from .._reading.delimited import Reading
from .._running.control import RunControl
from .._running.options import Manifest, Target
from .._running.sync import blocking
from .._shared import jsoncodec
from .._validating.payloads import Row
from .._validating.prepared import Prepared, prepare

__all__ = [
    "STATUS_COLUMNS",
    "LiveOptions",
    "astatus",
    "listed_teams",
    "manifest_teams",
    "status",
    "status_frame",
    "status_lines",
]

STATUS_COLUMNS = (
    "name",
    "app_id",
    "status",
    "gpu_tier",
    "active_workers",
    "location",
    "model_url",
    "loras",
    "created_at",
    "updated_at",
    "team_id",
)


@dataclass(frozen=True, kw_only=True)
class LiveOptions(Target):
    """What ``status`` and ``export`` take besides the manifest: ``team_id`` is the team
    listed without a manifest (None: the key's own apps); the manifest's reading as a
    run's."""

    loras: str | os.PathLike[str] | pd.DataFrame | None = None
    insecure: bool = False
    api_key_file: str | os.PathLike[str] | None = None
    encoding: str = "utf-8"
    delimiter: str | None = None
    sheet: str | None = None
    control: RunControl | None = None


def manifest_teams(
    manifest: Manifest, options: Any
) -> tuple[dict[str, set[str]], Counter[str], Prepared]:
    """Team ("" for the key's own) -> the names the manifest's rows give, valid or not;
    the rows per team; and what reading it found (its teams, those with a valid row)."""
    names: dict[str, set[str]] = {}
    rows_of: Counter[str] = Counter()

    def keep(rows: list[Row]) -> None:
        for row in rows:
            names.setdefault(row.team or "", set()).add(row.name)
            rows_of[row.team or ""] += 1

    reading = Reading(options.encoding, options.delimiter, options.sheet)
    prepared = prepare(
        manifest,
        loras=options.loras,
        team_id=options.team_id,
        keep=keep,
        allow_large=True,
        reading=reading,
    )
    return names, rows_of, prepared


async def listed_teams(
    teams: tuple[str, ...], options: Any
) -> tuple[dict[str, list[dict[str, Any]]], Report]:
    """Each team's apps, one listing each, and a report of what that took."""
    started, started_at = time.monotonic(), datetime.now(UTC)
    settings = settings_of(options)
    async with live_apps(settings, options) as live:
        listed = await live.each(teams)
    count = sum(len(apps) for apps in listed.values())
    report = Report(
        rows=count,
        counts={},
        error_kinds={},
        started_at=started_at,
        finished_at=datetime.now(UTC),
        elapsed=time.monotonic() - started,
        listings=live.stats.listings,
        host=URL(settings.base_url).host,
        teams=teams,
        labels=(),
    )
    return listed, report


def _cells(app: dict[str, Any], team: str) -> tuple[Any, ...]:
    config, workflow = app.get("configuration") or {}, app.get("workflow") or {}
    loras = (workflow.get("tools") or {}).get("loras") or []
    return (
        app.get("name"),
        str(app.get("id")),
        app.get("status"),
        config.get("gpu_tier"),
        config.get("active_workers"),
        config.get("location"),
        workflow.get("model_url"),
        jsoncodec.dumps(loras).decode() if loras else None,
        app.get("created_at"),
        app.get("updated_at"),
        team or None,
    )


async def status_frame(manifest: Manifest | None, options: LiveOptions) -> pd.DataFrame:
    """``astatus`` taking its options as one object."""
    names = None if manifest is None else manifest_teams(manifest, options)[0]
    columns = list(STATUS_COLUMNS) + ([] if names is None else ["managed"])
    out = None
    if options.output is not None:
        given = [] if manifest is None else [("manifest", manifest)]
        out = check_output(options.output, inputs=given, columns=columns)
    teams = (options.team_id or "",) if names is None else tuple(sorted(names))
    listed, report = await listed_teams(teams, options)
    rows = [_cells(app, team) for team, apps in listed.items() for app in apps]
    frame = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    frame["active_workers"] = frame["active_workers"].astype("Int64")
    if names is not None:
        frame["managed"] = [
            n in names.get(t or "", ())
            for n, t in zip(frame["name"], frame["team_id"], strict=True)
        ]
    frame = frame.sort_values(["team_id", "name"], na_position="first", ignore_index=True)
    counts = Counter(str(s) for s in frame["status"])
    frame.attrs["report"] = report = _with_counts(report, counts, frame)
    frame.attrs["output"] = str(write_table(frame, out)) if out is not None else None
    return frame


def _with_counts(report: Report, counts: Counter[str], frame: pd.DataFrame) -> Report:
    workers = int(frame["active_workers"].fillna(0).sum())
    return replace(report, counts=dict(counts), labels=tuple(sorted(counts)), workers=workers)


def status_lines(frame: pd.DataFrame, *, limit: int = 30) -> str:
    """The table as a person reads it: the first rows, then counts by status and the
    active workers in all."""
    shown = frame.head(limit)
    marks = [""] * len(shown)
    if "managed" in shown:
        marks = ["managed" if m else "unmanaged" for m in shown["managed"]]
    workers = [None if pd.isna(w) else int(w) for w in shown["active_workers"]]
    lines = [
        f"  {name!s:<32.32} {app_id!s:<12} {state!s:<13} {'' if n is None else n!s:>4} "
        f"{tier!s:<11} {team or '':<12} {mark}".rstrip()
        for name, app_id, state, n, tier, team, mark in zip(
            shown["name"],
            shown["app_id"],
            shown["status"],
            workers,
            shown["gpu_tier"],
            shown["team_id"],
            marks,
            strict=True,
        )
    ]
    if len(frame) > limit:
        lines.append(f"  ... and {len(frame) - limit} more: write them all with -o")
    report: Report = frame.attrs["report"]
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())) or "no apps"
    lines.append(
        f"{counted(len(frame), 'app')}: {by_status}; "
        f"{counted(report.workers, 'active worker')} in all"
    )
    return "\n".join(lines)


async def astatus(manifest: Manifest | None = None, **options: Any) -> pd.DataFrame:
    """The live apps of ``team_id`` (or, given a manifest, of every team it names), one
    listing per team: name, app_id, status, gpu_tier, active_workers, location,
    model_url, loras (as the server shows them), created_at, updated_at, team_id; with a
    manifest, ``managed`` says whether it names the app. ``output=`` also writes it.
    ``options``: the fields of ``LiveOptions`` (team_id, output, base_url, api_key...)."""
    return await status_frame(manifest, LiveOptions(**options))


def status(manifest: Manifest | None = None, **options: Any) -> pd.DataFrame:
    """``astatus`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(status_frame, manifest, LiveOptions(**options))
