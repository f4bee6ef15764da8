"""Step 1: reading the manifest (CSV, Parquet, JSONL or a DataFrame) into plain records.

Cells are read as text (CSV) or as the file's own native values (Parquet, JSONL), never
through pandas' float inference, so that an id like ``007310`` or ``212532`` arrives
exactly as written. Converting values is the validator's job, done on purpose there.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow

from .errors import ManifestError

__all__ = ["FIELDS", "LORA_FIELDS", "REQUIRED", "Manifest", "read_loras_table", "read_manifest"]

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
# Keys of a JSONL line in the API's own nested shape that hold more fields.
_NESTED = ("configuration", "workflow", "workflow.tools")
# Set on a record whose source line could not be read at all.
LINE_ERROR = "__line_error__"
# Set on a record that gives a field under two names: ["field: ...", ...].
CONFLICTS = "__conflicts__"
# Set by the LoRA-table join: [(table row number, raw LoRA dict), ...].
TABLE_LORAS = "__table_loras__"
EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@dataclass
class Manifest:
    records: list[dict[str, Any]]
    source: str
    warnings: list[str] = field(default_factory=list)


def _format_of(path: Path, what: str) -> str:
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(EXTENSIONS))
        ext = path.suffix or "(none)"
        raise ManifestError(f"{what} {str(path)!r}: unknown extension {ext!r}; use one of {known}")
    if not path.is_file():
        raise ManifestError(f"{what} {str(path)!r} not found")
    return kind


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8-sig") as lines:
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                value = {LINE_ERROR: f"line {line_no} is not valid JSON ({exc.msg})"}
            if not isinstance(value, dict):
                value = {LINE_ERROR: f"line {line_no} is not a JSON object"}
            records.append(_flatten(value))
    return records


def _flatten(value: dict[str, Any]) -> dict[str, Any]:
    """Turns the API's nested body into dotted keys, so that aliases can map them."""
    flat = dict(value)
    for prefix in _NESTED:
        inner = flat.get(prefix)
        if isinstance(inner, dict):
            del flat[prefix]
            flat.update({f"{prefix}.{k}": v for k, v in inner.items()})
    return flat


def _read_csv(path: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        # A row longer than the header would lose cells (or shift them into an index).
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            encoding="utf-8-sig",
        )


def _read_records(path: Path, what: str) -> tuple[list[dict[str, Any]], list[Any]]:
    kind = _format_of(path, what)
    try:
        if kind == "csv":
            frame = _read_csv(path)
        elif kind == "parquet":
            # The Arrow backend hands back Python ints and lists, not floats and arrays.
            frame = pd.read_parquet(path, dtype_backend="pyarrow")
        else:
            records = _read_jsonl(path)
            return records, _columns(records)
        return frame.to_dict("records"), list(frame.columns)
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


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value == value  # NaN != NaN


def _rename(record: dict[str, Any], renames: dict[str, str]) -> None:
    for old, new in renames.items():
        if old not in record:
            continue
        value = record.pop(old)
        if _filled(record.get(new)) and _filled(value):
            record.setdefault(CONFLICTS, []).append(f"{new}: given twice, also as {old!r}")
        elif _filled(value) or new not in record:
            record[new] = value


def _canonical(records: list[dict[str, Any]], columns: Iterable[Any], what: str) -> list[str]:
    """Renames alias columns in place; returns warnings about columns bulk does not use."""
    renames = {c: ALIASES[c] for c in columns if c in ALIASES}
    if renames:
        for record in records:
            _rename(record, renames)
    unused = [str(c) for c in columns if c not in FIELDS and c not in ALIASES and c != LINE_ERROR]
    return [f"{what}: column {c!r} is not used (known: {', '.join(FIELDS)})" for c in unused]


def _columns(records: list[dict[str, Any]]) -> list[Any]:
    seen: dict[Any, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)


def read_manifest(
    manifest: str | os.PathLike[str] | pd.DataFrame,
    *,
    loras: str | os.PathLike[str] | pd.DataFrame | None = None,
) -> Manifest:
    """Reads the manifest, joins the optional LoRA table, and checks the columns."""
    if isinstance(manifest, pd.DataFrame):
        source, columns = "DataFrame", [str(c) for c in manifest.columns]
        records = manifest.set_axis(columns, axis=1).to_dict("records")
    else:
        path = Path(manifest)
        source = str(path)
        records, columns = _read_records(path, "manifest")
    if not columns and not records:
        raise ManifestError(f"manifest {source!r} has no rows and no columns")
    warnings = _canonical(records, columns, f"manifest {source!r}")
    present = {ALIASES.get(c, c) for c in columns}
    missing = [c for c in REQUIRED if c not in present]
    if missing and not (records and all(LINE_ERROR in r for r in records)):
        raise ManifestError(
            f"manifest {source!r} has no {', '.join(repr(c) for c in missing)} column "
            f"(required: {', '.join(REQUIRED)}; columns found: "
            f"{', '.join(repr(str(c)) for c in columns)})"
        )
    if loras is not None:
        _join_loras(records, read_loras_table(loras))
    return Manifest(records=records, source=source, warnings=warnings)


def read_loras_table(
    table: str | os.PathLike[str] | pd.DataFrame,
) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Reads the long-form LoRA table: one row per app and LoRA, keyed by app name."""
    if isinstance(table, pd.DataFrame):
        source, records, columns = "LoRA table", table.to_dict("records"), list(table.columns)
    else:
        source = f"LoRA table {str(table)!r}"
        records, columns = _read_records(Path(table), "LoRA table")
    missing = [c for c in ("app", *LORA_FIELDS) if c not in columns]
    if missing:
        raise ManifestError(
            f"{source} has no {', '.join(repr(c) for c in missing)} column "
            f"(needs: app, {', '.join(LORA_FIELDS)})"
        )
    by_app: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for row_no, record in enumerate(records, 1):
        app = str(record.get("app") or "").strip()
        if not app:
            raise ManifestError(
                f"{source}: row {row_no}: 'app' is empty; name the app it belongs to"
            )
        by_app.setdefault(app, []).append((row_no, {k: record.get(k) for k in LORA_FIELDS}))
    return by_app


def _join_loras(records: list[dict[str, Any]], by_app: dict[str, list]) -> None:
    names = {str(r.get("name") or "").strip() for r in records}
    orphans = [app for app in by_app if app not in names]
    if orphans:
        listed = ", ".join(repr(a) for a in orphans[:5])
        raise ManifestError(
            f"LoRA table: app {listed} is not a name in the manifest; fix the name so that "
            "the LoRA is not silently left off"
        )
    for record in records:
        entries = by_app.get(str(record.get("name") or "").strip())
        if entries:
            record[TABLE_LORAS] = entries
