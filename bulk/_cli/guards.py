"""The files a command writes besides its results (``--summary-json``, ``--log-file``),
checked before anything is sent: neither may replace or grow what the user gave us."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from .._shared.errors import UsageError

__all__ = ["check_log_file", "summary_path"]

# The files a command reads or writes, by the flag (or argument) that names them.
_GIVEN = (
    ("manifest", "the manifest"),
    ("results", "the results file"),
    ("loras", "the --loras table"),
    ("api_key_file", "the --api-key-file"),
    ("output", "the output (-o)"),
)


def _given(args: argparse.Namespace, *extra: str | None) -> Iterator[tuple[str, str]]:
    for name, what in _GIVEN:
        value = getattr(args, name, None)
        if isinstance(value, str):
            yield what, value
    for value in extra:
        if value is not None:
            yield "a file this command reads or writes", str(value)


def _refuse_inputs(flag: str, path: Path, given: Iterator[tuple[str, str]]) -> None:
    from .._output.results import same_file

    for what, other in given:
        if same_file(path, Path(other)):
            raise UsageError(
                f"{flag} {str(path)!r} is {what} ({other!r}): it would be overwritten; "
                f"choose another {flag}"
            )


def summary_path(args: argparse.Namespace, *given: str | None) -> Path | None:
    """Checked before the run: a summary replaces only an earlier summary of bulk's."""
    if getattr(args, "summary_json", None) is None:
        return None
    path = Path(args.summary_json)
    if not path.parent.is_dir():
        raise UsageError(
            f"--summary-json {str(path)!r}: folder {str(path.parent)!r} does not exist"
        )
    _refuse_inputs("--summary-json", path, _given(args, *given))
    if path.is_dir() or (path.exists() and not _is_summary(path)):
        raise UsageError(
            f"--summary-json {str(path)!r} exists and is not a bulk summary; choose another "
            "--summary-json, or move that file away"
        )
    return path


def _is_summary(path: Path) -> bool:
    """An empty file, or the JSON a summary of bulk's is (its command and exit status)."""
    try:
        if path.stat().st_size == 0:
            return True
        with path.open("rb") as source:
            data = json.loads(source.read(1 << 22))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and str(data.get("command", "")).startswith("python -m bulk")
        and "exit_code" in data
    )


def check_log_file(args: argparse.Namespace) -> None:
    """The log is appended to its file: never to one the command reads or writes."""
    log_file = getattr(args, "log_file", None)
    if log_file is None:
        return
    path = Path(log_file)
    summary = getattr(args, "summary_json", None)
    given = [*_given(args)] + ([("the --summary-json", summary)] if summary else [])
    manifest = getattr(args, "manifest", None)
    if isinstance(manifest, str) and getattr(args, "output", None) is None:
        from .._output.results import default_output

        for dry_run in (False, True):  # the results a run of it writes by default
            given.append(("the results file", str(default_output(manifest, dry_run=dry_run))))
    _refuse_inputs("--log-file", path, iter(given))
