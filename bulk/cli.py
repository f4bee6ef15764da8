"""Step 7: the command line, a thin layer over the library and the emulator: each command
parses its flags, calls one library function, and turns a domain error into
``Error: ...`` and an exit status (listed in ``_cli.help.EXITS``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from . import __version__
from ._cli.delete import delete_parser
from ._cli.flags import (
    EXIT_INTERRUPTED,
    EXIT_ROWS,
    EXIT_STOPPED,
    EXIT_USAGE,
    log_flags,
    summary_of_failure,
)
from ._cli.guards import check_log_file
from ._cli.help import EPILOGS, EXITS, TOP, Help
from ._cli.live import export_parser, status_parser
from ._cli.parsing import Parser
from ._cli.run import apply_parser, create_parser, plan_parser
from ._cli.serve import serve_parser
from ._cli.wait import wait_parser
from ._shared.errors import BulkError, ManifestError, OptionError, ServiceError, UsageError
from ._shared.logs import configure, log

__all__ = ["command_list", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    # No abbreviations: "--api-key VALUE" would be taken for "--api-key-file VALUE", and
    # the key echoed as a file name.
    top = Parser(
        prog="python -m bulk",
        description=TOP,
        epilog=EXITS,
        formatter_class=Help,
        allow_abbrev=False,
    )
    top.add_argument("--version", action="version", version=f"bulk {__version__}")
    # Not required: with no command, main lists the commands instead of a usage error.
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        create_parser,
        plan_parser,
        apply_parser,
        delete_parser,
        status_parser,
        export_parser,
        wait_parser,
        serve_parser,
    ):
        add(commands)
    for name, command in commands.choices.items():
        command.allow_abbrev = False  # add_parser passes no such setting down
        log_flags(command)
        command.formatter_class, command.epilog = Help, EPILOGS[name]
    return top


def command_list(top: argparse.ArgumentParser) -> str:
    """What ``python -m bulk`` alone prints: each command with its one line."""
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    lines = [f"  {c.dest:<8} {c.help}" for c in commands._choices_actions]
    return "\n".join(
        [
            f"usage: {top.prog} COMMAND ...   ({top.prog} COMMAND --help for its options)",
            "",
            TOP,
            "",
            "commands:",
            *lines,
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status (the console script exits with it)."""
    started_at = datetime.now(UTC)  # a run refused later still says when it began
    argv = list(sys.argv[1:] if argv is None else argv)
    top = parser()
    args = top.parse_args(argv)
    if args.command is None:
        print(command_list(top))
        return EXIT_USAGE
    try:
        check_log_file(args)
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        undo = configure(format=args.log_format, file=args.log_file, verbosity=args.verbose)
    except OSError as exc:
        print(f"Error: --log-file {args.log_file!r}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, argv, started_at)
    finally:
        undo()


# The first that matches: an option out of range is a usage error, and so on.
_EXITS = (
    (UsageError, EXIT_USAGE),
    (ManifestError, EXIT_USAGE),
    (ServiceError, EXIT_STOPPED),
    (BulkError, EXIT_ROWS),
)


def _run(args: argparse.Namespace, argv: list[str], started_at: datetime) -> int:
    """The command, its domain errors turned into ``Error: ...`` and an exit status."""
    try:
        code: int = args.func(args, argv)
        return code
    except BulkError as exc:
        message = exc.as_flag() if isinstance(exc, OptionError) else str(exc)
        log.error(f"Error: {message}")
        code = next(code for kind, code in _EXITS if isinstance(exc, kind))
        summary_of_failure(args, argv, code, message, started_at)
        return code
    except KeyboardInterrupt:
        log.warning("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        log.error(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_USAGE
