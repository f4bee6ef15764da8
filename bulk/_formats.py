"""Reading tabular files (CSV, Parquet, JSONL) and DataFrames in chunks of records.

Cells are read as text (CSV) or as the file's own native values (Parquet, JSONL), never
through pandas' float inference, so that an id like ``007310`` or ``212532`` arrives
exactly as written. Converting values is the validator's job, done on purpose there.
Memory stays flat: one chunk of records is alive at a time.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyarrow.parquet

from . import _jsoncodec as jsoncodec
from ._errors import ManifestError
from ._records import BadLine, Raw

__all__ = [
    "CHUNK_ROWS",
    "EXTENSIONS",
    "file_chunks",
    "format_of",
    "frame_chunks",
    "header",
    "translated",
]

CHUNK_ROWS = 2_000  # records per chunk: enough to amortise, small enough to stay flat
# Keys of a JSONL line in the API's own nested shape that hold more fields.
_NESTED = ("configuration", "workflow", "workflow.tools")
EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def format_of(path: Path, what: str) -> str:
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(EXTENSIONS))
        ext = path.suffix or "(none)"
        raise ManifestError(f"{what} {str(path)!r}: unknown extension {ext!r}; use one of {known}")
    if not path.is_file():
        raise ManifestError(f"{what} {str(path)!r} not found")
    return kind


def _jsonl_records(path: Path, chunk_rows: int) -> Iterator[list[Raw]]:
    batch: list[Raw] = []
    with path.open(encoding="utf-8-sig") as lines:
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = jsoncodec.loads(line)
            except json.JSONDecodeError as exc:
                batch.append(BadLine(f"line {line_no} is not valid JSON ({exc.msg})"))
            else:
                ok = isinstance(value, dict)
                batch.append(
                    _flatten(value) if ok else BadLine(f"line {line_no} is not a JSON object")
                )
            if len(batch) >= chunk_rows:
                yield batch
                batch = []
    if batch:
        yield batch


def _flatten(value: dict[str, Any]) -> dict[str, Any]:
    """Turns the API's nested body into dotted keys, so that aliases can map them."""
    flat = dict(value)
    for prefix in _NESTED:
        inner = flat.get(prefix)
        if isinstance(inner, dict):
            del flat[prefix]
            flat.update({f"{prefix}.{k}": v for k, v in inner.items()})
    return flat


_CSV_OPTIONS: dict[str, Any] = dict(
    dtype=object,  # every cell a Python str, as written: no inference, no Arrow round trip
    keep_default_na=False,
    na_filter=False,
    index_col=False,
    encoding="utf-8-sig",
)


def _csv_records(path: Path, chunk_rows: int) -> Iterator[list[Raw]]:
    with pd.read_csv(path, chunksize=chunk_rows, **_CSV_OPTIONS) as chunks:
        for chunk in chunks:
            yield _records(chunk)


def _parquet_records(path: Path, chunk_rows: int) -> Iterator[list[Raw]]:
    # Arrow hands back Python ints and lists, never floats or numpy arrays.
    for batch in pyarrow.parquet.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        yield batch.to_pylist()


def frame_chunks(frame: pd.DataFrame, chunk_rows: int) -> Iterator[list[Raw]]:
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    for start in range(0, len(frame), chunk_rows):
        yield _records(frame.iloc[start : start + chunk_rows])


def _records(frame: pd.DataFrame) -> list[Raw]:
    # Column by column: several times quicker than to_dict("records"), same values.
    columns = list(frame.columns)
    values = [frame.iloc[:, i].tolist() for i in range(len(columns))]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def header(path: Path, kind: str) -> list[Any] | None:
    """The columns, known before the rows for CSV and Parquet."""
    if kind == "csv":
        return list(pd.read_csv(path, nrows=0, **_CSV_OPTIONS).columns)
    if kind == "parquet":
        return list(pyarrow.parquet.ParquetFile(path).schema_arrow.names)
    return None


_READERS: dict[str, Callable[[Path, int], Iterator[list[Raw]]]] = {
    "csv": _csv_records,
    "parquet": _parquet_records,
    "jsonl": _jsonl_records,
}


@contextmanager
def translated(what: str, path: Path, kind: str) -> Iterator[None]:
    """The one place where the readers' errors become ``ManifestError``."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise ManifestError(f"{what} {str(path)!r} is empty") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{what} {str(path)!r} is not UTF-8 text") from None
    except (
        pd.errors.ParserError,
        pd.errors.ParserWarning,
        pyarrow.ArrowException,
        ValueError,
        OSError,
    ) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ManifestError(f"{what} {str(path)!r} cannot be read as {kind}: {detail}") from None


def file_chunks(path: Path, kind: str, what: str, chunk_rows: int) -> Iterator[list[Raw]]:
    chunks = _READERS[kind](path, chunk_rows)
    while True:
        with translated(what, path, kind), warnings.catch_warnings():
            # A row longer than the header would lose cells (or shift them into an index).
            warnings.simplefilter("error", pd.errors.ParserWarning)
            chunk: list[Raw] | None = next(chunks, None)
        if chunk is None:
            return
        yield chunk
