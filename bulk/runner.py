"""Step 5b: the run. ``arun`` is the one async core; ``run`` is a thin wrapper around it.

Rows stream from the manifest into a pool of ``concurrency`` workers through a
rendezvous channel: no task per row is created up front, and a run that stops takes no
new row.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.lowlevel
import pandas as pd

from .client import Client
from .config import ApiKey, Settings, resolve_settings
from .control import RunControl, catch_signals, until_stopped
from .directory import Directory, Unsettled
from .errors import Interrupted, UsageError
from .existing import decide
from .journal import Earlier, Journal, Target, check_journal, journal_path, rows_digest
from .manifest import Manifest, read_manifest
from .pacing import Pacer, RetryBudget
from .payloads import Row, build_rows
from .progress import Progress, summarize
from .results import Result, Stats, check_output, to_frame, write_results
from .sender import Sender

__all__ = ["arun"]


def _check_arguments(concurrency: int, rate: float, max_retries: int, timeout: float) -> None:
    checks = [
        (
            "concurrency",
            concurrency,
            isinstance(concurrency, int) and concurrency >= 1,
            "a whole number 1 or more, e.g. concurrency=8",
        ),
        (
            "rate",
            rate,
            isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0,
            "requests per second, 0 for no cap",
        ),
        (
            "max_retries",
            max_retries,
            isinstance(max_retries, int) and max_retries >= 0,
            "a whole number 0 or more, e.g. max_retries=5",
        ),
        (
            "timeout",
            timeout,
            isinstance(timeout, int | float) and timeout > 0,
            "seconds per request, more than 0, e.g. timeout=30",
        ),
    ]
    for name, value, ok, fix in checks:
        if not ok or isinstance(value, bool):
            raise UsageError(f"{name} must be {fix}; got {value!r}")


class _Run:
    """The state of one run with a network: rows, results, and the pool that fills them."""

    def __init__(
        self,
        rows: list[Row],
        results: list[Result | None],
        progress: Progress,
        journal: Journal,
        control: RunControl,
    ) -> None:
        self.rows, self.results, self.progress = rows, results, progress
        self.journal, self.control = journal, control

    def record(self, index: int, result: Result, *, journal: bool = True) -> None:
        self.results[index] = result
        if journal:
            self.journal.result(self.rows[index], result)
        self.progress.add(result)

    async def prepare(
        self, directory: Directory, earlier: Earlier, stats: Stats, *, skip_existing: bool
    ) -> None:
        """Lists each team's apps once, then decides what each row needs before any POST:
        ids come from this listing of this target, never from an older file."""
        for index, row in enumerate(self.rows):
            if self.results[index] is not None:
                continue
            try:
                ids = await directory.ids(row.team, row.name, after=-math.inf)
            except Unsettled as exc:
                self.control.halt(_listing_failed(exc), kind=exc.kind)
                return
            prior = earlier.rows.get((row.team, row.name))
            result = decide(row, ids, prior, skip_existing=skip_existing)
            if result is not None:
                # Found after an earlier run's request whose outcome was never recorded.
                stats.adopted += (
                    prior is not None
                    and result.status == "created"
                    and result.app_id != prior.app_id
                )
                self.record(index, result)

    async def pool(self, sender: Sender, concurrency: int) -> None:
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._watch, outer.cancel_scope)
            send, receive = anyio.create_memory_object_stream[int](0)
            async with anyio.create_task_group() as workers:
                for _ in range(concurrency):
                    workers.start_soon(self._worker, sender, receive.clone())
                receive.close()
                async with send:
                    for index, result in enumerate(self.results):
                        if self.control.stopping:
                            break
                        if result is None:
                            await send.send(index)
            outer.cancel_scope.cancel()

    async def _worker(self, sender: Sender, receive: anyio.abc.ObjectReceiveStream[int]) -> None:
        async with receive:
            async for index in receive:
                if self.control.stopping:
                    continue
                result = await sender.send(self.rows[index])
                if result.status == "skipped" and result.attempts == 0:
                    result = _unsent(self.rows[index], self.control)
                self.record(index, result, journal=result.status != "skipped")

    async def _watch(self, scope: anyio.CancelScope) -> None:
        """After a stop request, in-flight requests get a grace period, then are abandoned."""
        await self.control.wait_interrupted()
        with anyio.move_on_after(self.control.grace):
            await self.control.wait_abandoned()
        scope.cancel()


def _listing_failed(exc: Unsettled) -> str:
    if exc.kind == "auth":
        return f"the API key was refused ({exc})"
    return f"the apps could not be listed before sending, so nothing was sent: {exc}"


def _abandoned(row: Row) -> Result:
    error = (
        "sent, then abandoned before its answer came: the app may exist; --resume looks "
        "it up before sending again"
    )
    return Result(row.number, row.name, "skipped", attempts=1, error=error, error_kind="ambiguous")


def _unsent(row: Row, control: RunControl) -> Result:
    reason = control.reason or "the run stopped"
    return Result(
        row.number, row.name, "skipped", error=f"not sent: {reason}", error_kind=control.reason_kind
    )


@dataclass(frozen=True)
class _Options:
    concurrency: int
    rate: float
    max_retries: int
    timeout: float
    progress: bool
    skip_existing: bool


async def arun(
    manifest: str | os.PathLike[str] | pd.DataFrame,
    *,
    output: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    api_key: str | ApiKey | None = None,
    team_id: str | None = None,
    concurrency: int = 8,
    rate: float = 0,
    max_retries: int = 5,
    timeout: float = 30,
    loras: str | os.PathLike[str] | pd.DataFrame | None = None,
    dry_run: bool = False,
    progress: bool = True,
    resume: bool = False,
    skip_existing: bool = True,
    insecure: bool = False,
    api_key_file: str | os.PathLike[str] | None = None,
    control: RunControl | None = None,
) -> pd.DataFrame:
    """Creates one app per valid manifest row whose name the team does not have yet;
    returns one result row per manifest row (a DataFrame manifest's index is kept).

    ``frame.attrs`` carries ``summary`` (text), ``output`` (path or None), ``stopped``
    (why the run stopped early, or None), ``warnings`` and ``first_body``.
    Ctrl-C (in the main thread) or ``control.interrupt()`` stops the run taking rows;
    it then raises ``Interrupted`` with the results so far. A cancelled run stops the
    same way, writes what it has, and lets the cancellation propagate.
    """
    _check_arguments(concurrency, rate, max_retries, timeout)
    inputs = [("manifest", manifest), ("LoRA table", loras)]
    out = check_output(output, inputs=inputs, dry_run=dry_run) if output is not None else None
    if out is not None and not dry_run:
        check_journal(journal_path(out), inputs=inputs)
    if resume and (out is None or dry_run):
        raise UsageError(
            "--resume (resume=True) needs a real run with --output (output=): the journal "
            "lives beside the results file; a dry run has none"
        )
    settings = None
    if not dry_run:  # a dry run needs no key and touches no network
        settings = resolve_settings(
            base_url=base_url, api_key=api_key, api_key_file=api_key_file, insecure=insecure
        )
    doc = read_manifest(manifest, loras=loras)
    rows = build_rows(doc.records, team_id=team_id)
    index = manifest.index if isinstance(manifest, pd.DataFrame) else None
    control = control or RunControl()
    started = time.monotonic()
    results: list[Result | None] = [_checked(row, dry_run) for row in rows]
    stats = Stats()
    if settings is not None:
        options = _Options(concurrency, rate, max_retries, timeout, progress, skip_existing)
        journal = Journal(
            journal_path(out) if out else None, resume=resume, target=_target(settings, rows)
        )
        work = functools.partial(
            _send_all, rows, results, doc.source, settings, journal, control, options, stats
        )
        try:
            with catch_signals(control):
                await until_stopped(work, control)
        except anyio.get_cancelled_exc_class():
            _finish(rows, results, index, out, doc, control, started, stats)
            raise
    frame = _finish(rows, results, index, out, doc, control, started, stats)
    if control.interrupted:
        raise Interrupted(frame)
    return frame


def _target(settings: Settings, rows: list[Row]) -> Target:
    assert settings.api_key is not None
    return Target(
        base_url=settings.base_url,
        teams=tuple(sorted({row.team or "" for row in rows})),
        key=settings.api_key.fingerprint(),
        digest=rows_digest(rows),
    )


def _finish(
    rows: list[Row],
    results: list[Result | None],
    index: pd.Index | None,
    out: Path | None,
    doc: Manifest,
    control: RunControl,
    started: float,
    stats: Stats,
) -> pd.DataFrame:
    """The results table, written to ``out`` when there is one."""
    frame = to_frame(
        [r or _unsent(row, control) for r, row in zip(results, rows, strict=True)], index=index
    )
    if out is not None:
        write_results(frame, out)
    frame.attrs.update(
        output=str(out) if out else None,
        stopped=control.reason,
        warnings=doc.warnings,
        first_body=_first_body(rows),
        summary=summarize(
            frame, elapsed=time.monotonic() - started, stats=stats, output=str(out) if out else None
        ),
    )
    return frame


def _checked(row: Row, dry_run: bool) -> Result | None:
    if row.error:
        return Result(row.number, row.name, "invalid", error=row.error, error_kind="validation")
    return Result(row.number, row.name, "valid") if dry_run else None


def _first_body(rows: list[Row]) -> str | None:
    body = next((r.body for r in rows if r.body is not None), None)
    return None if body is None else json.dumps(body, indent=2, ensure_ascii=False)


async def _send_all(
    rows: list[Row],
    results: list[Result | None],
    source: str,
    settings: Settings,
    journal: Journal,
    control: RunControl,
    options: _Options,
    stats: Stats,
) -> None:
    bar = Progress(len(rows), enabled=options.progress)
    run = _Run(rows, results, bar, journal, control)
    try:
        for result in results:
            if result is not None:
                bar.add(result)
        journal.start(source, len(rows))
        assert settings.api_key is not None
        async with Client(
            settings.base_url,
            settings.api_key,
            timeout=options.timeout,
            pool=options.concurrency + 1,
        ) as client:
            sender = _sender(client, journal, control, options, stats)
            await run.prepare(
                sender.directory, journal.earlier, stats, skip_existing=options.skip_existing
            )
            await run.pool(sender, options.concurrency)
        if all(r is not None and r.status != "skipped" for r in results):
            journal.end()  # nothing left for --resume: a fresh run may follow
    finally:
        for index, row in enumerate(rows):
            if results[index] is None and row.number in journal.sent:
                results[index] = _abandoned(row)  # its answer never came: it may exist
        journal.close()
        bar.close()


def _sender(
    client: Client, journal: Journal, control: RunControl, options: _Options, stats: Stats
) -> Sender:
    pacer = Pacer(rate=options.rate)
    return Sender(
        client,
        pacer,
        Directory(client, pacer),
        journal,
        max_retries=options.max_retries,
        budget=RetryBudget(),
        keep_going=lambda: not control.stopping,
        on_auth_failure=lambda e: control.halt(f"the API key was refused ({e})", kind="auth"),
        on_service_down=lambda e: control.halt(f"the service looks down: {e}", kind="server"),
        stats=stats,
    )
