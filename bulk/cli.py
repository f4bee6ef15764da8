"""Step 7: the command line, a thin layer over ``arun`` and the emulator.

Exit status: 0 every row created (or already there); 1 some row failed, was invalid or
skipped; 2 a usage error or an unusable manifest; 130 interrupted (--resume finishes).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

import anyio

from . import __version__
from ._control import RunControl
from ._errors import BulkError, ManifestError, UsageError
from ._options import RunOptions
from ._progress import describe_rows
from ._report import Report, write_summary
from ._results import default_output, same_file
from ._runner import Outcome, execute
from .emulator import Faults, serve

T = TypeVar("T")

__all__ = ["main"]

EXIT_OK, EXIT_ROWS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value


def _create_parser(commands: Any) -> None:
    p = commands.add_parser(
        "create",
        help="create one app per manifest row",
        description="Create one RunGen.AI app per manifest row, exactly once.",
    )
    p.add_argument("manifest", help="the manifest: .csv, .parquet, .jsonl or .ndjson")
    p.add_argument(
        "-o",
        "--output",
        help="results file (.csv, .parquet, .jsonl); default: <manifest stem>.results.csv "
        "beside the manifest (<manifest stem>.dry-run.csv with --dry-run)",
    )
    p.add_argument(
        "--loras",
        metavar="PATH",
        help="long-form LoRA table joined on the app name "
        "(columns app, id, versionId, downloadUrl, name, weight)",
    )
    p.add_argument("--team-id", help="team owning every app (a team_id column overrides it)")
    _tuning(p, "--concurrency", int, "requests in flight")
    _tuning(p, "--rate", float, "most requests per second, retries included; 0: no cap")
    _tuning(p, "--max-retries", int, "retries per row")
    _tuning(p, "--timeout", float, "seconds per request")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--base-url", help="API base URL (default: $RUNGEN_BASE_URL, else https://api.rungen.ai)"
    )
    _switch(where, "--emulator", "try it now: run against a built-in emulator on a loopback port")
    p.add_argument(
        "--api-key-file", metavar="PATH", help="file holding the API key (default: $RUNGEN_API_KEY)"
    )
    _switch(p, "--dry-run", "validate and build every body; send nothing")
    _switch(p, "--resume", "finish an earlier run of this manifest and output from its journal")
    p.add_argument(
        "--skip-existing",
        action=argparse.BooleanOptionalAction,
        default=RunOptions.skip_existing,
        help="rows whose name the team already has end 'exists' with that app's id and "
        "are not sent (default); --no-skip-existing creates a second app of that name",
    )
    _switch(p, "--insecure", "allow a plain-http base URL that is not a loopback address")
    _switch(p, "-q", "--quiet", "no progress bar")
    p.add_argument(
        "--summary-json",
        metavar="PATH",
        help="also write the run's report as JSON (counts, requests, times, exit status), "
        "replaced whole, also when the run is interrupted",
    )
    p.set_defaults(func=_create)


def _switch(p: Any, *flags_and_text: str) -> None:
    """An on/off flag (off unless given)."""
    *flags, text = flags_and_text
    p.add_argument(*flags, action="store_true", help=text)


def _tuning(p: argparse.ArgumentParser, flag: str, kind: type, text: str) -> None:
    """A flag whose default is RunOptions' field of the same name, written there once."""
    default = getattr(RunOptions, flag.lstrip("-").replace("-", "_"))
    p.add_argument(flag, type=kind, default=default, help=f"{text} (default %(default)s)")


def _serve_parser(commands: Any) -> None:
    p = commands.add_parser(
        "serve",
        help="run the built-in API emulator",
        description="Run the RunGen.AI API emulator, with faults on demand.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    p.add_argument("--api-key", help="the key it accepts (default: a random one, printed)")
    p.add_argument("--rate-limit", type=float, default=0, help="requests/s per key, then 429")
    p.add_argument(
        "--burst",
        type=float,
        help="requests a full token bucket lets through at once (default: --rate-limit)",
    )
    p.add_argument(
        "--retry-after",
        choices=("seconds", "date", "none"),
        default="seconds",
        help="form of the Retry-After header on 429 (default seconds)",
    )
    p.add_argument("--error-rate", type=_share, default=0, help="share of 500/502/503/504")
    p.add_argument(
        "--drop-before",
        type=_share,
        default=0,
        help="share of connections dropped before the app is created",
    )
    p.add_argument(
        "--drop-after",
        type=_share,
        default=0,
        help="share of connections dropped after the app is created",
    )
    p.add_argument("--latency", type=float, default=0, help="seconds added to each answer")
    _switch(p, "--no-idempotency", "ignore Idempotency-Key headers, as some servers do")
    _switch(p, "--envelope", 'answer {"data": {...}} as the live service does')
    p.add_argument("--seed", type=int, help="seed of the fault draws")
    p.set_defaults(func=_serve)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bulk", description=__doc__.split("\n")[0])
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _create_parser(commands)
    _serve_parser(commands)
    return top


async def _run_create(args: argparse.Namespace, control: RunControl) -> Outcome:
    options = _from_args(
        RunOptions,
        args,
        output=args.output or default_output(args.manifest, dry_run=args.dry_run),
        progress=not args.quiet,
        control=control,
    )
    if not args.emulator:
        return await execute(args.manifest, options)
    async with serve() as emulator:
        print(f"emulator: serving the RunGen.AI API at {emulator.url}", file=sys.stderr)
        return await execute(
            args.manifest, replace(options, base_url=emulator.url, api_key=emulator.api_key)
        )


def _create(args: argparse.Namespace, argv: Sequence[str]) -> int:
    summary = _summary_path(args)
    control = RunControl(signals=(signal.SIGINT, signal.SIGTERM))
    outcome = anyio.run(_run_create, args, control)
    try:
        _report(outcome, args)
    finally:
        outcome.close()
    code = _exit_code(outcome.report, argv)
    if summary is not None:
        command = shlex.join(["python", "-m", "bulk", *argv])
        write_summary(summary, outcome.report, command=command, exit_code=code)
    return code


def _exit_code(report: Report, argv: Sequence[str]) -> int:
    if report.interrupted:
        again = [a for a in argv if a != "--resume"] + ["--resume"]
        print(f"interrupted. To finish: python -m bulk {shlex.join(again)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if report.stopped:
        print(f"stopped early: {report.stopped}", file=sys.stderr)
    return EXIT_OK if report.succeeded else EXIT_ROWS


def _summary_path(args: argparse.Namespace) -> Path | None:
    """Checked before the run: a summary must not replace what the user gave us."""
    if args.summary_json is None:
        return None
    path = Path(args.summary_json)
    if not path.parent.is_dir():
        raise UsageError(
            f"--summary-json {str(path)!r}: folder {str(path.parent)!r} does not exist"
        )
    for given in (args.manifest, args.loras, args.output):
        if given is not None and same_file(path, Path(given)):
            raise UsageError(f"--summary-json {str(path)!r} is {given!r}: it would be overwritten")
    return path


def _report(outcome: Outcome, args: argparse.Namespace) -> None:
    for warning in outcome.report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.dry_run and outcome.prepared.first_body:
        print(f"first body (of {outcome.results.counts['valid']} to send):")
        print(outcome.prepared.first_body)
    if outcome.results.total:
        print(describe_rows(outcome.results.batches(), outcome.results.total))
    print(outcome.report.summary())


def _serve(args: argparse.Namespace, argv: Sequence[str]) -> int:
    try:
        faults = _faults(args)
    except ValueError as exc:
        raise UsageError(str(exc).replace("_", "-")) from None

    async def forever() -> None:
        async with serve(
            api_key=args.api_key, faults=faults, host=args.host, port=args.port
        ) as emulator:
            print(f"emulator: serving the RunGen.AI API at {emulator.url}", flush=True)
            if not args.api_key:
                print(f"emulator: API key {emulator.api_key}", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    return

    anyio.run(forever)
    return EXIT_OK


def _faults(args: argparse.Namespace) -> Faults:
    return _from_args(Faults, args, idempotency=not args.no_idempotency)


def _from_args(kind: Callable[..., T], args: argparse.Namespace, **given: Any) -> T:
    """``kind`` (a dataclass) from the flags of the same name, and ``given``."""
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    flags = {n: v for n, v in vars(args).items() if n in names and n not in given}
    return kind(**flags, **given)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args, argv)
        return code
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BulkError as exc:
        code = EXIT_USAGE if isinstance(exc, ManifestError) else EXIT_ROWS
        print(f"Error: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
