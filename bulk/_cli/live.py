"""``python -m bulk status`` and ``python -m bulk export``: see and adopt what is live."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .._shared.logs import log
from .flags import (
    EXIT_OK,
    from_args,
    on_target,
    reading_flags,
    summary_flag,
    summary_path,
    switch,
    target_flags,
    write_summary_of,
)

__all__ = ["export_parser", "status_parser"]


def _optional_manifest(p: argparse.ArgumentParser) -> None:
    """The manifest flags of a run, the manifest itself made optional."""
    reading_flags(p)
    manifest = next(a for a in p._actions if a.dest == "manifest")
    manifest.nargs, manifest.required, manifest.default = "?", False, None
    manifest.help = "a manifest: list the teams it names and mark the apps it names"


def status_parser(commands: Any) -> None:
    p = commands.add_parser(
        "status",
        help="list the live apps of a team, with their status",
        description="List the live apps of --team-id (or of the teams a manifest names), "
        "one listing per team: name, id, status, tier, workers, location, model, LoRAs, "
        "times. With a manifest, a managed column says whether it names the app.",
    )
    _optional_manifest(p)
    p.add_argument("-o", "--output", help="also write the table (.csv, .parquet, .jsonl)")
    switch(p, "-q", "--quiet", "print the totals only, not the table")
    target_flags(p)
    summary_flag(p, "the report as JSON")
    p.set_defaults(func=_status)


def export_parser(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="write a team's live apps as a manifest that plan finds unchanged",
        description="Write the live apps of --team-id as a manifest: plan against the same "
        "team then reports every row unchanged. The way to adopt apps made by other means.",
    )
    p.add_argument("--team-id", help="the team whose apps to export (default: the key's own)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="the manifest to write: .csv, .tsv, .parquet, .jsonl, .ndjson or .xlsx",
    )
    switch(p, "--force", "replace the output file when it exists")
    switch(p, "-q", "--quiet", "print nothing but errors and warnings")
    target_flags(p)
    summary_flag(p, "the report as JSON")
    p.set_defaults(func=_export)


def _status(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio  # loaded when the command runs, so that --help starts at once

    from .._operations.status import LiveOptions, status_frame, status_lines

    summary = summary_path(args, args.manifest, args.loras, args.output)
    options = from_args(LiveOptions, args)
    frame = anyio.run(on_target, args, options, lambda o: status_frame(args.manifest, o))
    lines = status_lines(frame)
    print(lines.splitlines()[-1] if args.quiet and lines else lines)
    if frame.attrs["output"] and not args.quiet:
        print(f"table: {frame.attrs['output']}")
    return write_summary_of(summary, frame.attrs["report"], argv, EXIT_OK)


def _export(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import anyio

    from .._operations.export import export_frame
    from .._operations.status import LiveOptions
    from .._output.report import counted

    summary = summary_path(args, args.output)
    options = from_args(LiveOptions, args)
    frame = anyio.run(on_target, args, options, lambda o: export_frame(o, force=args.force))
    for warning in frame.attrs["warnings"]:
        log.warning(f"warning: {warning}")
    owner = f"of team {args.team_id!r}" if args.team_id else "of your own"
    if not args.quiet:
        print(f"exported {counted(len(frame), 'app')} {owner}: {frame.attrs['output']}")
    return write_summary_of(summary, frame.attrs["report"], argv, EXIT_OK)
