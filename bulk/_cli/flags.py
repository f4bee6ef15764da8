"""What the commands of the command line share: exit codes, flags, options from flags."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._running.options import RunOptions
from .._shared.errors import UsageError
from .._shared.logs import log
from .guards import summary_path

if TYPE_CHECKING:  # the rest loads when a command runs, so that --help starts at once
    from .._output.report import Report
    from .._running.runner import Outcome

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_ROWS",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "command_line",
    "exit_code",
    "from_args",
    "log_flags",
    "on_target",
    "reading_flags",
    "sending_flags",
    "show",
    "summary_flag",
    "summary_of_failure",
    "summary_path",
    "switch",
    "target_flags",
    "write_summary_of",
]

T = TypeVar("T")
EXIT_OK, EXIT_ROWS, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def switch(p: Any, *flags_and_text: str) -> None:
    """An on/off flag (off unless given)."""
    *flags, text = flags_and_text
    p.add_argument(*flags, action="store_true", help=text)


def _tuning(p: argparse.ArgumentParser, flag: str, kind: type, text: str) -> None:
    """A flag whose default is RunOptions' field of the same name, written there once."""
    default = getattr(RunOptions, flag.lstrip("-").replace("-", "_"))
    p.add_argument(flag, type=kind, default=default, help=text)


def log_flags(p: argparse.ArgumentParser) -> None:
    """Where the log goes and how much of it: every command has them."""
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines on stderr (or --log-file) as text or JSON, each with its UTC time",
    )
    p.add_argument("--log-file", metavar="PATH", help="append the log to PATH instead of stderr")
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: one line per request attempt; -vv: also the pacer's decisions",
    )


def _delimiter(text: str) -> str:
    value = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(
            f"must be one character (or 'tab'), not {len(text)} characters"
        )
    return value


def reading_flags(p: argparse.ArgumentParser) -> None:
    """The manifest and how to read it."""
    p.add_argument("manifest", help="the manifest: .csv, .tsv, .parquet, .jsonl, .ndjson or .xlsx")
    p.add_argument(
        "--loras",
        metavar="PATH",
        help="long-form LoRA table joined on the app name "
        "(columns app, id, versionId, downloadUrl, name, weight)",
    )
    p.add_argument("--team-id", help="team owning every app (a team_id column overrides it)")
    p.add_argument(
        "--encoding",
        default=RunOptions.encoding,
        help="text encoding of a CSV or JSONL manifest (a BOM is fine); cp1252 for Excel on "
        "Windows",
    )
    p.add_argument(
        "--loras-encoding",
        default=RunOptions.loras_encoding,
        help="text encoding of a CSV or JSONL --loras table (a BOM is fine)",
    )
    _tuning(
        p,
        "--max-body-bytes",
        int,
        "a row whose body would be larger is invalid, naming its largest field",
    )
    p.add_argument(
        "--delimiter",
        type=_delimiter,
        help="the CSV delimiter; by default sniffed among , ; tab and | (tab: 'tab' or '\\t')",
    )
    p.add_argument("--sheet", help="the sheet of an .xlsx manifest (default: the first)")


class _NoKeyFlag(argparse.Action):
    """``--api-key VALUE`` is refused without echoing VALUE: a key on the command line
    shows in the process list and the shell's history, and argparse would print it back."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        parser.error(
            "there is no --api-key flag (a key on the command line shows in the process "
            "list): set RUNGEN_API_KEY, or pass --api-key-file PATH"
        )


def target_flags(p: argparse.ArgumentParser) -> None:
    """Which server, with which key."""
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--base-url", help="API base URL (default: $RUNGEN_BASE_URL, else https://api.rungen.ai)"
    )
    switch(where, "--emulator", "try it now: run against a built-in emulator on a loopback port")
    p.add_argument(
        "--api-key-file", metavar="PATH", help="file holding the API key (default: $RUNGEN_API_KEY)"
    )
    p.add_argument("--api-key", nargs="?", action=_NoKeyFlag, help=argparse.SUPPRESS)
    switch(p, "--insecure", "allow a plain-http base URL that is not a loopback address")
    _tuning(p, "--rate", float, "most requests per second, retries included; 0: no cap")
    _tuning(p, "--max-retries", int, "retries per row")
    _tuning(p, "--timeout", float, "seconds to wait for each answer")
    _tuning(p, "--connect-timeout", float, "seconds to connect (a stall is retried at once)")
    p.add_argument(
        "--settle-wait",
        type=float,
        metavar="S",
        help="seconds after an ambiguous failure (500, 502, 504, a dropped connection, a "
        "read timeout) before the listing that settles it; at least --timeout, its "
        "default; more when the server's listings lag behind its creates",
    )


def sending_flags(p: argparse.ArgumentParser) -> None:
    """How a command that writes to the server goes about it."""
    _tuning(p, "--concurrency", int, "requests in flight")
    switch(p, "--resume", "finish an earlier run of this input and output from its journal")
    switch(p, "-q", "--quiet", "no progress bar")
    summary_flag(
        p,
        "the run's report as JSON (counts, requests, times, exit status), replaced whole, "
        "also when the run is interrupted",
    )


def summary_flag(p: argparse.ArgumentParser, what: str) -> None:
    """``--summary-json``, which every command but serve takes, saying what it writes."""
    p.add_argument("--summary-json", metavar="PATH", help=f"also write {what}")


def from_args(kind: Callable[..., T], args: argparse.Namespace, **given: Any) -> T:
    """``kind`` (a dataclass) from the flags of the same name, and ``given``."""
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    flags = {n: v for n, v in vars(args).items() if n in names and n not in given}
    return kind(**flags, **given)


async def on_target(
    args: argparse.Namespace, options: Any, work: Callable[[Any], Awaitable[T]]
) -> T:
    """``work(options)`` against the server the flags name, or a fresh emulator."""
    if not getattr(args, "emulator", False):
        return await work(options)
    from ..emulator import serve

    async with serve() as emulator:
        log.info(f"emulator: serving the RunGen.AI API at {emulator.url}")
        return await work(replace(options, base_url=emulator.url, api_key=emulator.api_key))


def command_line(argv: Sequence[str]) -> str:
    """The command as a summary records it. A --api-key-file that names no file may be
    the key itself, typed in place of the path: it is recorded as '***'."""
    shown = list(argv)
    for i, arg in enumerate(shown):
        if arg == "--api-key-file" and i + 1 < len(shown) and not Path(shown[i + 1]).is_file():
            shown[i + 1] = "***"
        elif arg.startswith("--api-key-file=") and not Path(arg.split("=", 1)[1]).is_file():
            shown[i] = "--api-key-file=***"
    return shlex.join(["python", "-m", "bulk", *shown])


def write_summary_of(path: Path | None, report: Report, argv: Sequence[str], code: int) -> int:
    if path is not None:
        from .._output.report import write_summary

        write_summary(path, report, command=command_line(argv), exit_code=code)
    return code


def exit_code(report: Report, argv: Sequence[str]) -> int:
    if report.interrupted:
        again = [a for a in argv if a != "--resume"] + ["--resume"]
        log.warning(f"interrupted. To finish: python -m bulk {shlex.join(again)}")
        return EXIT_INTERRUPTED
    if report.stopped:
        log.warning(f"stopped early: {report.stopped}")
        return EXIT_STOPPED
    return EXIT_OK if report.succeeded else EXIT_ROWS


def show(outcome: Outcome, *, dry_run: bool = False) -> None:
    for warning in outcome.report.warnings:
        log.warning(f"warning: {warning}")
    if dry_run and outcome.prepared.first_body:
        print(f"first body (of {outcome.results.counts['valid']} to send):")
        print(outcome.prepared.first_body)
    from .._output.progress import describe_rows

    rows = describe_rows(outcome.results.batches(), outcome.results.total)
    if rows:  # a large run with nothing to look at prints no empty line
        print(rows)
    print(outcome.report.summary())


def summary_of_failure(
    args: argparse.Namespace, argv: Sequence[str], code: int, error: str, started_at: datetime
) -> None:
    """A run that could not run still leaves its --summary-json: a scheduler must never
    read the last night's summary for tonight's failure."""
    try:
        path = summary_path(args)
    except (UsageError, AttributeError):
        return  # no --summary-json, or one that would replace an input
    if path is None:
        return
    finished_at = datetime.now(UTC)
    data = {
        "command": command_line(argv),
        "exit_code": code,
        "error": error,
        "started_at": started_at.isoformat(),
        "finished_at": finished_at.isoformat(),
        "duration_seconds": (finished_at - started_at).total_seconds(),
    }
    from .._output.report import write_json

    write_json(path, data)
