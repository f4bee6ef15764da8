"""Step 6a: the results table, one row per manifest row, and its atomic writing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd

from .errors import UsageError

__all__ = [
    "COLUMNS",
    "STATUSES",
    "SUCCESS",
    "Result",
    "Stats",
    "default_output",
    "to_frame",
    "write_results",
]

STATUSES = ("created", "exists", "failed", "invalid", "skipped", "valid")
SUCCESS = frozenset({"created", "exists", "valid"})
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass(slots=True)
class Result:
    row: int
    name: str
    status: str
    app_id: str | None = None
    http_status: int | None = None
    attempts: int = 0
    error: str | None = None
    error_kind: str | None = None


@dataclass(slots=True)
class Stats:
    """What a run sent, for its summary."""

    requests: int = 0
    retries: int = 0
    adopted: int = 0  # found by a listing after an ambiguous failure


COLUMNS = tuple(f.name for f in fields(Result))


def to_frame(results: Sequence[Result]) -> pd.DataFrame:
    rows = [
        (r.row, r.name, r.status, r.app_id, r.http_status, r.attempts, r.error, r.error_kind)
        for r in results
    ]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({"row": "int64", "attempts": "int64", "http_status": "Int64"})
    return frame.astype({c: "string" for c in ("name", "status", "app_id", "error", "error_kind")})


def default_output(manifest: str | os.PathLike[str]) -> Path:
    path = Path(manifest)
    return path.with_name(f"{path.stem}.results.csv")


def check_output(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise UsageError(
            f"output {str(path)!r}: unknown extension {path.suffix or '(none)'!r}; "
            f"use one of {known}"
        )
    if not path.parent.is_dir():
        raise UsageError(f"output {str(path)!r}: folder {str(path.parent)!r} does not exist")
    return path


def write_results(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Writes beside the target, then renames: a reader never sees half a file."""
    path = check_output(path)
    kind = FORMATS[path.suffix.lower()]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
