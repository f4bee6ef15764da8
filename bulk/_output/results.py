"""Step 5: the results table, one row per manifest row, and its atomic writing."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO, Literal, get_args

import pandas as pd
import pyarrow
import pyarrow.parquet

from .._shared import durable as _durable
from .._shared.errors import UsageError
from .._shared.extensions import EXTENSIONS as READABLE

# A results file is written in a format bulk reads back (a delete reads it).
EXTENSIONS = {ext: kind for ext, kind in READABLE.items() if kind in ("csv", "parquet", "jsonl")}
EXTENSIONS.pop(".tsv")

__all__ = [
    "COLUMNS",
    "STATUSES",
    "SUCCESS",
    "Result",
    "Stats",
    "Status",
    "check_output",
    "default_output",
    "frame_of",
    "rows_with_ids",
    "same_file",
    "tuples_frame",
    "write_atomically",
    "write_frames",
    "write_table",
]

# What a row ended as: users match on these, and STATUSES lists them as plain strings.
Status = Literal[
    "created",
    "exists",
    "failed",
    "invalid",
    "skipped",
    "valid",
    # apply
    "updated",
    "unchanged",
    "drifted",
    "conflict",
    # delete
    "deleted",
    "gone",
]
STATUSES: tuple[Status, ...] = get_args(Status)
SUCCESS = frozenset({"created", "exists", "valid", "updated", "unchanged", "deleted", "gone"})
# What only a real run writes: a file holding one of these is never replaced by a dry run.
REAL_OUTCOMES = frozenset(STATUSES) - {"invalid", "valid"}


@dataclass(slots=True)
class Result:
    row: int
    name: str
    status: Status
    app_id: str | None = None
    http_status: int | None = None
    attempts: int = 0
    error: str | None = None
    error_kind: str | None = None
    team_id: str | None = None  # the team that owns the app; None: the key's own apps

    def as_tuple(self) -> tuple[Any, ...]:
        """The row of the results table, in the order of ``COLUMNS``."""
        return (
            self.row,
            self.name,
            self.status,
            self.app_id,
            self.http_status,
            self.attempts,
            self.error,
            self.error_kind,
            self.team_id,
        )


@dataclass(slots=True)
class Stats:
    """What a run sent, counted as it goes; its ``Report`` is made from them."""

    posts: int = 0
    puts: int = 0
    deletes: int = 0
    listings: int = 0  # GET /app
    retries: int = 0
    throttled: int = 0  # 429 answers
    adopted: int = 0  # found by a listing after an ambiguous failure
    workers: int = 0  # active workers the rows done asked for

    def count(self, method: str, *, retry: bool) -> None:
        if method == "POST":
            self.posts += 1
        elif method == "PUT":
            self.puts += 1
        else:
            self.deletes += 1
        self.retries += retry


COLUMNS = tuple(f.name for f in fields(Result))


def tuples_frame(rows: Sequence[tuple[Any, ...]], index: pd.Index | None = None) -> pd.DataFrame:
    """The results table from tuples in the order of ``COLUMNS``."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS), index=index)
    frame = frame.astype({"row": "int64", "attempts": "int64", "http_status": "Int64"})
    text = ("name", "status", "app_id", "error", "error_kind", "team_id")
    return frame.astype({c: "string" for c in text})


def frame_of(
    batches: Iterable[Sequence[tuple[Any, ...]]], index: pd.Index | None = None
) -> pd.DataFrame:
    """One DataFrame from batches of result tuples, built one batch at a time."""
    frames = [tuples_frame(batch) for batch in batches]
    frame = pd.concat(frames, ignore_index=True) if frames else tuples_frame([])
    if index is not None:
        frame.index = index
    return frame


def default_output(manifest: str | os.PathLike[str], *, dry_run: bool = False) -> Path:
    """Beside the manifest; a dry run's goes elsewhere than a real run's."""
    path = Path(manifest)
    return path.with_name(f"{path.stem}.{'dry-run' if dry_run else 'results'}.csv")


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_output(
    path: str | os.PathLike[str],
    *,
    inputs: Sequence[tuple[str, object]] = (),
    dry_run: bool = False,
    columns: Sequence[str] = COLUMNS,
) -> Path:
    """Says why the results may not go to ``path``: an unknown format, a missing folder,
    a file the user gave us (``inputs``: (what, path) pairs), a file that is not a
    results file, or, for a dry run, the outcomes of a real run."""
    path = Path(path)
    if path.suffix.lower() not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UsageError(
            f"output {str(path)!r}: unknown extension {path.suffix or '(none)'!r}; "
            f"use one of {known}"
        )
    if not path.parent.is_dir():
        raise UsageError(f"output {str(path)!r}: folder {str(path.parent)!r} does not exist")
    _check_writable(path)
    for what, given in inputs:
        if isinstance(given, str | os.PathLike) and same_file(path, Path(given)):
            raise UsageError(
                f"output {str(path)!r} is the {what}: it would be overwritten; choose "
                "another --output (-o)"
            )
    if path.exists() and not _blank(path):
        _check_replaceable(path, dry_run=dry_run, columns=columns)
    return path


def _blank(path: Path) -> bool:
    """Holds nothing a user could lose: an empty table written as JSONL is one newline."""
    size = path.stat().st_size
    return size == 0 or (size <= 4 and not path.read_bytes().strip())


def _check_writable(path: Path) -> None:
    """The results are written beside ``path``, then renamed: a folder that takes no new
    file (read-only, or /proc) is said of the output, before the run locks or sends."""
    try:
        fd, tmp = _temporary(path)
    except OSError as exc:
        raise UsageError(
            f"output {str(path)!r}: cannot write in its folder {str(path.parent)!r} "
            f"({exc.strerror or exc}); choose another --output (-o)"
        ) from None
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)


def _check_replaceable(path: Path, *, dry_run: bool, columns: Sequence[str]) -> None:
    statuses = _recorded_statuses(path, columns)
    if statuses is None:
        raise UsageError(
            f"output {str(path)!r} exists and is not a bulk results file; choose another "
            "--output (-o), or move that file away"
        )
    if dry_run and statuses & REAL_OUTCOMES:
        raise UsageError(
            f"output {str(path)!r} holds the results of a real run; a dry run does not "
            "replace them: choose another --output (-o)"
        )


def rows_with_ids(path: Path) -> set[tuple[str, str]]:
    """The (team, name) of the rows an existing results file gives an app id."""
    frame = _results_file(path, COLUMNS) if path.exists() else None
    if frame is None:
        return set()
    team = frame["team_id"] if "team_id" in frame else pd.Series("", index=frame.index)
    found = frame["app_id"].fillna("").astype(str) != ""
    return set(zip(_text(team[found]), _text(frame["name"][found]), strict=True))


def _text(column: pd.Series) -> list[str]:
    return column.fillna("").astype(str).tolist()


def _recorded_statuses(path: Path, columns: Sequence[str]) -> set[str] | None:
    """The statuses in an existing file bulk wrote (with these ``columns``), or None
    when it is not one."""
    frame = _results_file(path, columns)
    if frame is None:
        return None
    return {str(s) for s in frame["status"].dropna()} if "status" in frame else set()


def _results_file(path: Path, columns: Sequence[str]) -> pd.DataFrame | None:
    """An existing file bulk wrote (with these ``columns``), or None when it is not one."""
    kind = EXTENSIONS[path.suffix.lower()]
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif kind == "parquet":
            frame = pyarrow.parquet.read_table(path).to_pandas()
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except (ValueError, OSError, pyarrow.ArrowException, pd.errors.ParserError):
        return None
    # Results files from before the team_id column are results files too,
    # and so are those a wait gave a state column.
    older = [list(COLUMNS[:-1]), [*COLUMNS, "state"]]
    known = [list(columns)] + (older if list(columns) == list(COLUMNS) else [])
    return frame if list(frame.columns) in known else None


def write_frames(frames: Iterable[pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Writes the frames, one after the other (only one is in memory at a time), whole
    or not at all."""
    path = Path(path)
    kind = EXTENSIONS[path.suffix.lower()]
    return write_atomically(path, lambda out: _APPENDERS[kind](frames, out))


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Any table (a plan, say) in the format its extension names, whole or not at all."""
    kind = EXTENSIONS[path.suffix.lower()]
    if kind == "csv":
        return write_atomically(path, lambda out: frame.to_csv(out, index=False))
    if kind == "parquet":
        # pandas stores attrs in the file as JSON; a frame's attrs hold reports.
        bare = frame.copy(deep=False)
        bare.attrs = {}
        return write_atomically(path, lambda out: bare.to_parquet(out, index=False))
    text = frame.to_json(orient="records", lines=True, force_ascii=False) or ""
    return write_atomically(path, lambda out: out.write(text.encode()))


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Writes beside the target, then renames: a reader never sees half a file."""
    fd, tmp = _temporary(path)
    try:
        with open(fd, "wb") as out:
            write(out)
            out.flush()
            _durable.fsync(out.fileno())  # on disk before the rename makes it the results
        os.replace(tmp, path)
        _durable.fsync_dir(path.parent)  # and the rename itself
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _csv(frames: Iterable[pd.DataFrame], out: BinaryIO) -> None:
    header = True
    for frame in frames:
        frame.to_csv(out, index=False, header=header, encoding="utf-8")
        header = False
    if header:
        tuples_frame([]).to_csv(out, index=False, encoding="utf-8")


def _jsonl(frames: Iterable[pd.DataFrame], out: BinaryIO) -> None:
    for frame in frames:
        if len(frame):
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            out.write(text.encode() if text.endswith("\n") else (text + "\n").encode())


def _parquet(frames: Iterable[pd.DataFrame], out: BinaryIO) -> None:
    writer = None
    try:
        for frame in frames:
            table = pyarrow.Table.from_pandas(frame, schema=_SCHEMA, preserve_index=False)
            writer = writer or pyarrow.parquet.ParquetWriter(out, _SCHEMA)
            writer.write_table(table)
        if writer is None:
            pyarrow.parquet.write_table(_SCHEMA.empty_table(), out)
    finally:
        if writer is not None:
            writer.close()


_APPENDERS = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet}
_SCHEMA = pyarrow.Table.from_pandas(tuples_frame([]), preserve_index=False).schema


def _temporary(path: Path) -> tuple[int, str]:
    """A new file beside ``path`` with the user's usual permissions: created with 0o666,
    the OS applies the umask (mkstemp's file would be private, and reading the umask
    means setting it, for every thread of the process)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # one chance in 2**48: another name
            continue
