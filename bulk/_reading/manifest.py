"""Step 1: the manifest (CSV, Parquet, JSONL or a DataFrame) as chunks of plain records,
alias columns renamed and the LoRA table joined.

The files themselves are read by ``formats``; converting values is the validator's job.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .._shared.errors import ManifestError
from .._shared.extensions import format_of
from . import formats
from .delimited import Reading
from .formats import (
    CHUNK_ROWS,
    Chunk,
    frame_chunks,
    open_table,
)
from .records import BadLine, ManifestRecord, Raw, is_blank

__all__ = [
    "FIELDS",
    "LORA_FIELDS",
    "REQUIRED",
    "ManifestReader",
    "read_loras_table",
]

FIELDS = (
    "name",
    "description",
    "gpu_tier",
    "active_workers",
    "location",
    "model_url",
    "loras",
    "team_id",
)
REQUIRED = ("name", "gpu_tier", "model_url")
LORA_FIELDS = ("id", "versionId", "downloadUrl", "name", "weight")
ALIASES = {
    "configuration.gpu_tier": "gpu_tier",
    "configuration.active_workers": "active_workers",
    "configuration.location": "location",
    "workflow.model_url": "model_url",
    "workflow.tools.loras": "loras",
}


def _rename(cells: dict[str, Any], renames: dict[str, str]) -> tuple[str, ...]:
    """Renames alias columns in place; the fields given under both names."""
    conflicts = []
    for old, new in renames.items():
        if old not in cells:
            continue
        value = cells.pop(old)
        if not is_blank(value) and not is_blank(cells.get(new)):
            conflicts.append(f"{new}: given twice, also as {old!r}")
        elif not is_blank(value) or new not in cells:
            cells[new] = value
    return tuple(conflicts)


def canonical(column: Any) -> str:
    """A header forgiven as values are: case, surrounding spaces, and inner spaces or
    hyphens (``GPU Tier``, ``Model-URL``); the dotted API names stay aliases."""
    text = "_".join(_SEPARATORS.split(str(column).strip().lower()))
    return ALIASES.get(text, text)


_SEPARATORS = re.compile(r"[\s\-]+")


def _unused(columns: Iterable[Any], what: str) -> list[str]:
    unused = [str(c) for c in columns if canonical(c) not in FIELDS]
    return [f"{what}: column {c!r} is not used (known: {', '.join(FIELDS)})" for c in unused]


def _columns(records: Chunk) -> list[Any]:
    seen: dict[Any, None] = {}
    for _, record in records:
        if not isinstance(record, BadLine):
            seen.update(dict.fromkeys(record))
    return list(seen)


def _delimiter_hint(columns: list[Any]) -> str:
    for mark, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
        if any(mark in str(c) for c in columns):
            return f"; it looks {name}-separated: pass --delimiter {name}"
    return ""


class ManifestReader:
    """One pass over a manifest, ``chunk_rows`` records at a time, aliases renamed and
    the LoRA table joined. Column problems known from the header are raised on opening;
    those only the whole file can show (JSONL keys, LoRA-table orphans) at the end."""

    def __init__(
        self,
        manifest: str | os.PathLike[str] | pd.DataFrame,
        *,
        loras: str | os.PathLike[str] | pd.DataFrame | None = None,
        chunk_rows: int | None = None,
        reading: Reading | None = None,
    ) -> None:
        chunk_rows = chunk_rows or formats.CHUNK_ROWS
        reading = reading or Reading()
        self._hint, self._notes = "", []
        self.warnings: list[str] = []
        if isinstance(manifest, pd.DataFrame):
            self.source = "DataFrame"
            columns: list[Any] | None = [str(c) for c in manifest.columns]
            self._chunks: Iterator[Chunk] = frame_chunks(manifest, chunk_rows)
            empty = manifest.empty
        else:
            path = Path(manifest)
            self.source, kind = str(path), format_of(path, "manifest")
            if kind == "xlsx" and reading.sheet is None:
                self._hint = "; that is the workbook's first sheet: name another with --sheet"
            elif kind != "xlsx" and reading.sheet is not None:
                self._notes.append(f"--sheet {reading.sheet!r} is for .xlsx manifests; ignored")
            columns, self._chunks = open_table(path, kind, "manifest", chunk_rows, reading)
            empty = False
        self._columns: dict[Any, None] = dict.fromkeys(columns or ())
        try:
            if columns is not None:
                if not columns and empty:
                    raise ManifestError(f"manifest {self.source!r} has no rows and no columns")
                self._check_columns(everything_broken=False)
            self._table = None if loras is None else read_loras_table(loras, reading.of_loras())
        except BaseException:
            self.close()  # a workbook is not left open behind the error
            raise
        self._joined: set[str] = set()

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    def _check_columns(self, *, everything_broken: bool) -> None:
        columns = list(self._columns)
        self.warnings = [*self._notes, *_unused(columns, f"manifest {self.source!r}")]
        present = {canonical(c) for c in columns}
        missing = [c for c in REQUIRED if c not in present]
        if missing and not everything_broken:
            raise ManifestError(
                f"manifest {self.source!r} has no {', '.join(repr(c) for c in missing)} column "
                f"(required: {', '.join(REQUIRED)}; columns found: "
                f"{', '.join(repr(str(c)) for c in columns)}){_delimiter_hint(columns)}"
                f"{self._hint}"
            )

    def __iter__(self) -> Iterator[list[ManifestRecord]]:
        known = bool(self._columns)
        readable = False
        for records in self._chunks:
            columns = list(self._columns) if known else _columns(records)
            if not known:
                self._columns.update(dict.fromkeys(columns))
                readable = readable or any(not isinstance(r, BadLine) for _, r in records)
            renames = {c: canonical(c) for c in columns if canonical(c) in FIELDS}
            renames = {old: new for old, new in renames.items() if old != new}
            yield [self._record(line, raw, renames) for line, raw in records]
        if not known:
            if not self._columns:
                raise ManifestError(f"manifest {self.source!r} has no rows and no columns")
            self._check_columns(everything_broken=not readable)
        if self._table is not None:
            _check_orphans(self._table, self._joined)

    def _record(self, line: int | None, raw: Raw, renames: dict[str, str]) -> ManifestRecord:
        if isinstance(raw, BadLine):  # its name, if it has one, names it in the results
            cells = raw.cells or {}
            _rename(cells, renames)
            return ManifestRecord(cells, line_error=raw.message, line=line)
        conflicts = _rename(raw, renames) if renames else ()
        return ManifestRecord(
            raw, line=line, conflicts=conflicts, table_loras=self._joined_loras(raw)
        )

    def _joined_loras(self, cells: dict[str, Any]) -> tuple[tuple[int, dict[str, Any]], ...]:
        if self._table is None:
            return ()
        name = str(cells.get("name") or "").strip()
        entries = self._table.get(name)
        if not entries:
            return ()
        self._joined.add(name)
        return tuple(entries)


def read_loras_table(
    table: str | os.PathLike[str] | pd.DataFrame, reading: Reading | None = None
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Reads the long-form LoRA table: one row per app and LoRA, keyed by app name."""
    if isinstance(table, pd.DataFrame):
        source = "LoRA table"
        columns: list[Any] | None = [str(c) for c in table.columns]
        chunks: Iterable[Chunk] = frame_chunks(table, CHUNK_ROWS)
    else:
        path, reading = Path(table), reading or Reading()
        source, kind = f"LoRA table {str(table)!r}", format_of(path, "LoRA table")
        columns, chunks = open_table(path, kind, "LoRA table", CHUNK_ROWS, reading)
    records = [pair for chunk in chunks for pair in chunk]
    columns = columns if columns is not None else _columns(records)
    missing = [c for c in ("app", *LORA_FIELDS) if c not in _lora_columns(columns)]
    if missing:
        raise ManifestError(
            f"{source} has no {', '.join(repr(c) for c in missing)} column "
            f"(needs: app, {', '.join(LORA_FIELDS)}; columns found: "
            f"{', '.join(repr(str(c)) for c in columns)}){_delimiter_hint(columns)}"
        )
    by_app: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    names = _lora_columns(columns)
    for row_no, (line, record) in enumerate(records, 1):
        if isinstance(record, BadLine):
            raise ManifestError(f"{source}: line {line}: {record.message}")
        app = str(record.get(names.get("app", "app")) or "").strip()
        if not app:
            raise ManifestError(
                f"{source}: row {row_no}: 'app' is empty; name the app it belongs to"
            )
        lora = {field: record.get(names.get(field, field)) for field in LORA_FIELDS}
        by_app.setdefault(app, []).append((row_no, lora))
    return by_app


def _lora_columns(columns: Iterable[Any]) -> dict[str, Any]:
    """A LoRA table's headers forgiven as the manifest's are (``Version Id`` is
    ``versionId``): the field each column holds."""
    wanted = {f.lower(): f for f in ("app", *LORA_FIELDS)}
    found: dict[str, Any] = {}
    for column in columns:
        key = "".join(_SEPARATORS.split(str(column).strip().lower())).replace("_", "")
        if key in wanted:
            found.setdefault(wanted[key], column)
    return found


def _check_orphans(by_app: dict[str, list[Any]], joined: set[str]) -> None:
    orphans = [app for app in by_app if app not in joined]
    if orphans:
        listed = ", ".join(repr(a) for a in orphans[:5])
        raise ManifestError(
            f"LoRA table: app {listed} is not a name in the manifest; fix the name so that "
            "the LoRA is not silently left off"
        )
