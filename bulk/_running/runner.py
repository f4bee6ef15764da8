"""Step 3: the run. ``execute`` is the one async core under ``arun``, ``run`` and ``aapply``.

The manifest is read, validated and encoded in one pass (``prepared``), the rows parked
on disk; then each team's apps are listed once, and the rows stream through the pool
(``pool``). Results come back in manifest order through a bounded buffer and are parked
on disk too (``ordered``); the results file and the DataFrame are built from there.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from yarl import URL

from .._http.breaker import RetryBudget
from .._http.client import Client
from .._http.directory import Directory
from .._http.pacing import Pacer
from .._output.progress import Progress
from .._output.report import Report
from .._output.results import (
    COLUMNS,
    STATUSES,
    Result,
    Stats,
    check_output,
    frame_of,
    rows_with_ids,
    tuples_frame,
    write_frames,
)
from .._shared.config import Settings, resolve_settings
from .._shared.errors import ERROR_KINDS
from .._shared.extensions import format_of
from .._shared.logs import log
from .._validating.payloads import Row
from .._validating.prepared import Prepared, prepare, spool_rows
from .._validating.spool import Spool
from .control import RunControl, catch_signals, until_stopped
from .created import CreatedIds
from .existing import decide, decide_apply, unshown_result
from .guard import guard
from .journal import Binding, Journal, check_journal, journal_path, let_land, lock_teams
from .options import Manifest, Mode, RunOptions, Sending
from .ordered import OrderedResults
from .pool import Decide, Pool
from .recall import Recall
from .sender import Sender, Shared, unfinished

__all__ = ["Execution", "Outcome", "begin", "execute"]

_NAME, _ID, _TEAM = (COLUMNS.index(c) for c in ("name", "app_id", "team_id"))


@dataclass
class Outcome:
    """What a run did: its results (in order, on disk), and what to say about them."""

    results: OrderedResults
    prepared: Prepared
    report: Report

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        frame = frame_of(self.results.batches(), index=index)
        report = self.report
        frame.attrs.update(
            output=report.paths.get("results"),
            stopped=report.stopped,
            warnings=list(report.warnings),
            first_body=self.prepared.first_body,
            summary=report.summary(),
            report=report,
        )
        return frame

    def close(self) -> None:
        self.results.close()


async def execute(manifest: Manifest, options: RunOptions, *, mode: Mode = "create") -> Outcome:
    """``arun`` without the DataFrame: the command line prints from the outcome, so that
    a run of any size never holds every result in memory. The caller closes it.
    ``mode``: "create" adds what is missing; "apply" also updates what differs."""
    o = options
    run, settings = begin(o, [("manifest", manifest), ("LoRA table", o.loras)])
    try:
        keep = run.check if settings is None else run.spool
        run.prepared = prepare(
            manifest,
            loras=o.loras,
            team_id=o.team_id,
            keep=keep,
            allow_large=o.allow_large,
            max_body_bytes=o.max_body_bytes,
            reading=o.reading,
        )
        if settings is not None:
            await run.send(settings, o, _decider(mode, o))
        return run.finish()
    except BaseException:
        run.close()
        raise


def begin(options: Any, inputs: list[tuple[str, object]]) -> tuple[Execution, Settings | None]:
    """What every run checks before it reads a row: where its results go (never over
    an input), its journal, its settings (none for a dry run, which touches no network)."""
    o, out = options, None
    what, given = inputs[0]
    if isinstance(given, str | os.PathLike):
        format_of(Path(given), what)  # a missing or unknown input is said first
    if o.output is not None:
        out = check_output(o.output, inputs=inputs, dry_run=o.dry_run)
    if out is not None and not o.dry_run:
        check_journal(journal_path(out), inputs=inputs)
    settings = None
    if not o.dry_run:
        settings = resolve_settings(
            base_url=o.base_url,
            api_key=o.api_key,
            api_key_file=o.api_key_file,
            insecure=o.insecure,
            max_active_workers=getattr(o, "max_active_workers", None),
        )
    run = Execution(out, o.control or RunControl(), dry_run=o.dry_run)
    run.host = None if settings is None else URL(settings.base_url).host
    return run, settings


class Execution:
    """One run's state, from its first row to its results file."""

    def __init__(self, out: Path | None, control: RunControl, *, dry_run: bool) -> None:
        self.out, self.control, self.dry_run = out, control, dry_run
        self.started, self.started_at = time.monotonic(), datetime.now(UTC)
        self.host: str | None = None
        self.results = OrderedResults()
        self.rows = Spool()
        self.stats = Stats()
        self.prepared = Prepared("")
        self.pool: Pool | None = None
        self.begun = False  # the journal started: requests may have gone out
        self.kept = False  # the results file was left as an earlier run wrote it

    def check(self, rows: list[Row]) -> None:
        """A dry run's results: each row valid or invalid."""
        for row in rows:
            result = (
                unfinished(row, self.control)
                if row.error
                else unshown_result(row) or Result(row.number, row.name, "valid")
            )
            result.team_id = row.team
            self.stats.workers += row.workers
            self.results.add(result)

    def spool(self, rows: list[Row]) -> None:
        spool_rows(self.rows, rows)

    async def send(self, settings: Settings, options: Sending, decide: Decide) -> None:
        journal = Journal(
            journal_path(self.out) if self.out else None,
            resume=options.resume,
            target=_target(settings, self.prepared),
        )
        try:
            with lock_teams(settings.base_url, self.prepared.sending_teams):
                work = functools.partial(_send_all, self, settings, journal, options, decide)
                with catch_signals(self.control):
                    await until_stopped(work, self.control)
        except BaseException as exc:
            if self.begun or isinstance(exc, anyio.get_cancelled_exc_class()):
                self._save()
            raise
        finally:
            journal.close()  # closed already, but for a run that could not begin

    def _save(self) -> None:
        """On any error once sending began (a full disk while journaling, say): the results
        file still gets the ids of the apps made so far, beside the journal."""
        try:
            self.finish()
        except Exception as exc:  # the error that stopped the run is the one to raise
            log.error(f"the results file could not be written either: {exc}")

    def finish(self) -> Outcome:
        """The results file, written once every row has its result."""
        self.rows.close()
        out = self.out
        if out is not None and self._keeps(out):
            self.kept = True
            log.warning(
                f"results not written: this run sent no request, and {str(out)!r} holds ids "
                "of an earlier run that this one did not find: kept as they were"
            )
        elif out is not None:
            write_frames((tuples_frame(b) for b in self.results.batches()), out)
        return Outcome(self.results, self.prepared, self._report())

    def _keeps(self, out: Path) -> bool:
        """A run that sent no request (a server out of reach, a key refused) does not
        replace ids of a real run with rows that have none, as a dry run does not: they
        may be the user's only record of apps a lagging listing does not show yet."""
        stats = self.stats
        if self.dry_run or stats.posts or stats.puts or stats.deletes:
            return False
        before = rows_with_ids(out)
        if before:
            before -= {
                (r[_TEAM] or "", r[_NAME]) for b in self.results.batches() for r in b if r[_ID]
            }
        return bool(before)

    def _report(self) -> Report:
        results, stats, out = self.results, self.stats, self.out
        paths = {} if out is None else {"results": str(out.resolve())}
        if out is not None and not self.dry_run:
            paths["journal"] = str(journal_path(out).resolve())
        return Report(
            rows=results.total,
            counts={s: results.counts[s] for s in STATUSES},
            error_kinds={k: results.kinds[k] for k in ERROR_KINDS},
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            elapsed=time.monotonic() - self.started,
            posts=stats.posts,
            puts=stats.puts,
            deletes=stats.deletes,
            workers=stats.workers,
            listings=stats.listings,
            retries=stats.retries,
            throttled=stats.throttled,
            adopted=stats.adopted,
            stopped=self.control.reason,
            interrupted=self.control.interrupted,
            dry_run=self.dry_run,
            kept=self.kept,
            warnings=tuple(self.prepared.warnings),
            paths=paths,
            manifest=self.prepared.source,
            host=self.host,
            teams=self.prepared.teams,
        )

    def close(self) -> None:
        self.rows.close()
        self.results.close()


def _target(settings: Settings, prepared: Prepared) -> Binding:
    assert settings.api_key is not None
    return Binding(
        base_url=settings.base_url,
        teams=prepared.teams,
        key=settings.api_key.fingerprint(),
        digest=prepared.digest,
    )


async def _send_all(
    run: Execution, settings: Settings, journal: Journal, options: Sending, decide: Decide
) -> None:
    prepared, control, stats = run.prepared, run.control, run.stats
    bar = Progress(prepared.count, enabled=options.progress)
    pool = Pool(run.rows, run.results, bar, journal, control)
    assert settings.api_key is not None
    record = CreatedIds(settings.base_url, settings.api_key.fingerprint())
    try:
        # A killed run's last requests get the same wait before --resume looks them up.
        journal.start(prepared.source, prepared.count, timeout=options.settle)
        run.begun = True
        async with Client(
            settings.base_url,
            settings.api_key,
            timeout=options.timeout,
            connect_timeout=options.connect_timeout,
            pool=options.concurrency + 1,
        ) as client:
            pacer = Pacer(rate=options.rate)
            directory = Directory(client, pacer, stats=stats, max_retries=options.max_retries)
            recall = Recall(
                client,
                pacer,
                stats,
                journal,
                server=(settings.base_url, settings.api_key.fingerprint()),
                skip_existing=getattr(options, "skip_existing", True),
                max_retries=options.max_retries,
                record=record,
            )
            shared = Shared(
                client,
                pacer,
                directory,
                journal,
                control,
                RetryBudget(),
                stats,
                recall=recall,
                settle_wait=options.settle,
            )
            sender = Sender(shared, max_retries=options.max_retries)
            await let_land(journal.earlier, options.timeout, sleep=control.pause)
            if not control.stopping and await pool.list_teams(directory, prepared.sending_teams):
                limit = settings.max_active_workers
                if limit is not None:
                    guard(pool.decisions(directory, journal.earlier, decide), limit)
                await pool.run(
                    sender,
                    directory,
                    journal.earlier,
                    stats,
                    concurrency=options.concurrency,
                    decide=decide,
                )
        results = run.results
        if results.total == prepared.count and not results.counts["skipped"]:
            journal.end()  # nothing left for --resume: a fresh run may follow
    finally:
        pool.fill()
        record.close()
        journal.close()
        bar.close()


def _decider(mode: Mode, options: RunOptions) -> Decide:
    """What a row needs, by command: create only adds what is missing; apply also
    updates what differs."""
    if mode == "apply":
        return lambda row, found, prior: decide_apply(
            row, found.listed_apps(row.team, row.name), prior
        )
    skip = options.skip_existing
    return lambda row, found, prior: decide(
        row, found.listed(row.team, row.name) or [], prior, skip_existing=skip
    )
