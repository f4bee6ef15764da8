"""Reading tabular files (CSV, TSV, Parquet, JSONL, .xlsx) and DataFrames in chunks of
(line, record) pairs; the line is the file's or the sheet's, None where there is none.

Cells are read as text (CSV) or as the file's own native values (the others), never
through pandas' float inference, so that an id like ``007310`` or ``212532`` arrives
exactly as written. Converting values is the validator's job, done on purpose there.
Memory stays flat: one chunk of records is alive at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow
import pyarrow.parquet

from .._shared import jsoncodec
from .._shared.errors import ManifestError
from .delimited import Reading, delimited_header, delimited_rows, where_undecodable
from .excel import excel_table
from .records import BadLine, Raw

Chunk = list[tuple[int | None, Raw]]

__all__ = [
    "CHUNK_ROWS",
    "Chunk",
    "frame_chunks",
    "header",
    "open_table",
    "translated",
]

CHUNK_ROWS = 2_000  # records per chunk: enough to amortise, small enough to stay flat
# Keys of a JSONL line in the API's own nested shape that hold more fields.
_NESTED = ("configuration", "workflow", "workflow.tools")


def _jsonl_records(path: Path, reading: Reading, chunk_rows: int) -> Iterator[Chunk]:
    batch: Chunk = []
    with path.open(encoding=reading.text_encoding(path)) as lines:
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = jsoncodec.loads(line, strict=True)
            except json.JSONDecodeError as exc:
                batch.append((line_no, BadLine(f"not valid JSON ({exc.msg})")))
            else:
                ok = isinstance(value, dict)
                batch.append((line_no, _flatten(value) if ok else BadLine(_NOT_OBJECT)))
            if len(batch) >= chunk_rows:
                yield batch
                batch = []
    if batch:
        yield batch


_NOT_OBJECT = "not a JSON object; each line must be one object, one app"


def _flatten(value: dict[str, Any]) -> dict[str, Any]:
    """Turns the API's nested body into dotted keys, so that aliases can map them."""
    flat = dict(value)
    for prefix in _NESTED:
        inner = flat.get(prefix)
        if isinstance(inner, dict):
            del flat[prefix]
            flat.update({f"{prefix}.{k}": v for k, v in inner.items()})
    return flat


def _parquet_records(path: Path, reading: Reading, chunk_rows: int) -> Iterator[Chunk]:
    # Arrow hands back Python ints and lists, never floats or numpy arrays.
    for batch in pyarrow.parquet.ParquetFile(path).iter_batches(batch_size=chunk_rows):
        yield [(None, record) for record in batch.to_pylist()]


def _delimited_records(path: Path, reading: Reading, chunk_rows: int) -> Iterator[Chunk]:
    return delimited_rows(path, reading, chunk_rows)


def frame_chunks(frame: pd.DataFrame, chunk_rows: int) -> Iterator[Chunk]:
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    columns = list(frame.columns)
    for start in range(0, len(frame), chunk_rows):
        part = frame.iloc[start : start + chunk_rows]
        # Column by column: several times quicker than to_dict("records"), same values.
        values = [part.iloc[:, i].tolist() for i in range(len(columns))]
        yield [(None, dict(zip(columns, row, strict=True))) for row in zip(*values, strict=True)]


def header(path: Path, kind: str, reading: Reading) -> list[Any] | None:
    """The columns, known before the rows but for JSONL (a workbook's: ``open_table``)."""
    if kind == "csv":
        return delimited_header(path, reading)
    if kind == "parquet":
        return list(pyarrow.parquet.ParquetFile(path).schema_arrow.names)
    return None


_READERS: dict[str, Callable[[Path, Reading, int], Iterator[Chunk]]] = {
    "csv": _delimited_records,
    "parquet": _parquet_records,
    "jsonl": _jsonl_records,
}


@contextmanager
def translated(what: str, path: Path, kind: str, reading: Reading) -> Iterator[None]:
    """The one place where the readers' errors become ``ManifestError``."""
    flag = "--loras-encoding" if what == "LoRA table" else "--encoding"
    try:
        yield
    except UnicodeDecodeError:
        encoding = reading.text_encoding(path)
        where = where_undecodable(path, encoding)
        utf8 = encoding == "utf-8-sig"
        hint = f"; try {flag} cp1252 (an export from Excel on Windows)" if utf8 else ""
        raise ManifestError(
            f"{what} {str(path)!r} is not {'UTF-8' if utf8 else encoding} text at "
            f"{where}{hint}, or save it as CSV UTF-8"
        ) from None
    except LookupError:
        raise ManifestError(f"{flag} {reading.encoding!r} is not a known encoding") from None
    except (csv.Error, pyarrow.ArrowException, ValueError, OSError, KeyError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise ManifestError(f"{what} {str(path)!r} cannot be read as {kind}: {detail}") from None


def open_table(
    path: Path, kind: str, what: str, chunk_rows: int, reading: Reading
) -> tuple[list[Any] | None, Iterator[Chunk]]:
    """The columns (None for JSONL: known at the end) and the chunks of a file. A
    workbook is opened once for both; closing the chunks closes it."""
    if kind == "xlsx":
        table = excel_table(path, reading.sheet, chunk_rows)
        with translated(what, path, kind, reading):
            columns: list[Any] | None = next(table)
        return columns, _translating(table, what, path, kind, reading)
    with translated(what, path, kind, reading):
        columns = header(path, kind, reading)
        chunks = _READERS[kind](path, reading, chunk_rows)
    return columns, _translating(chunks, what, path, kind, reading)


def _translating(
    chunks: Iterator[Chunk], what: str, path: Path, kind: str, reading: Reading
) -> Iterator[Chunk]:
    try:
        while True:
            with translated(what, path, kind, reading):
                chunk: Chunk | None = next(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
