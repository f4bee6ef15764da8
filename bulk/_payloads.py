"""Step 2: validating records and building the exact ``POST /app`` bodies. Pure, no I/O.

Each row is checked whole, so that a user sees every problem of a row at once; a bad row
never stops the others and is never sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# pandas' own dependency: list cells of a DataFrame may arrive as numpy arrays.
import numpy

from . import _jsoncodec as jsoncodec
from ._manifest import LORA_FIELDS
from ._records import Record, is_blank

__all__ = ["GPU_TIERS", "Row", "Validator", "build_rows", "idempotency_key"]

GPU_TIERS = ("BASIC", "STANDARD", "PERFORMANCE")


@dataclass(slots=True)
class Row:
    number: int  # 1-based position in the manifest
    name: str
    team: str | None
    body: dict[str, Any] | None = None
    payload: bytes = b""  # the body serialised once, for the hot path
    key: str = ""  # Idempotency-Key: same row, same key, across retries and runs
    error: str | None = None
    # Ids of apps of this name that the team had before this row was sent: never adopted.
    existing: tuple[str, ...] = ()
    # What to send, once the listing has decided: POST the payload ("create"), PUT it to
    # ``target`` ("update"), or DELETE ``target``, first scaling it to 0 ("delete").
    op: str = "create"
    target: str | None = None
    scale_down: bool = False
    workers: int = 0  # the active workers it asks for (the cost guard adds them up)
    label: int = 0  # the row number to show, when it is not ``number`` (a rollback's)


def idempotency_key(team: str | None, name: str, payload: bytes) -> str:
    digest = hashlib.sha256(f"{team or ''}\x00{name}\x00".encode() + payload).hexdigest()
    return f"bulk-{digest[:40]}"


def _text(value: Any) -> str:
    """A cell as text; whole-number floats lose their '.0' on purpose."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(float(value)))
    return str(value).strip()


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# http or https, a host, and no white space anywhere: what urlsplit would accept, at a
# fraction of its cost (this runs for every model and LoRA URL).
_URL = re.compile(r"(?i:https?)://[^/?#\s]+[^\s]*")


def _is_url(text: str) -> bool:
    return _URL.fullmatch(text) is not None


class _Problems(list[str]):
    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


def _number(value: Any) -> float | None:
    """A cell as a finite number, or None; true and false are no numbers."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+,\d+\s*")


def _decimal_hint(value: Any) -> str:
    """A spreadsheet set to a comma locale writes 0,7 for 0.7."""
    decimal_comma = isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value)
    return "; use a decimal point (0.7, not 0,7)" if decimal_comma else ""


def _whole_number(value: Any) -> int | None:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


MAX_WORKERS = 1_000  # more in one row is taken for a typo (an extra zero)
_JSON_SAFE = 2**53 - 1  # the largest integer every JSON reader keeps exact


def _workers(value: Any, problems: _Problems, allow_large: bool) -> int | None:
    if is_blank(value):
        return None
    number = _whole_number(value)
    if number is None or number < 0:
        problems.add(
            "active_workers",
            f"must be a whole number 0 or more, got {_show(value)}{_decimal_hint(value)}",
        )
        return None
    if number > _JSON_SAFE:
        problems.add("active_workers", f"{_show(value)} is not a JSON-safe integer")
        return None
    if number > MAX_WORKERS and not allow_large:
        problems.add(
            "active_workers",
            f"{number:,} is more than {MAX_WORKERS:,} (billing starts at 1 active worker per "
            "app); an extra zero? pass --allow-large (allow_large=True) if you mean it",
        )
        return None
    return number


def _weight(value: Any) -> float | None:
    if type(value) is float:  # the common case first: JSON numbers
        return value if math.isfinite(value) else None
    return None if is_blank(value) else _number(value)


def _lora_id(value: Any) -> str | None:
    if type(value) is str:  # the common case first: ids written as JSON strings
        return value.strip() or None
    if isinstance(value, bool) or is_blank(value):
        return None
    fraction = isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)
    return None if fraction and not float(value).is_integer() else _text(value)


def _missing(values: list[Any]) -> list[str]:
    # Text and floats checked inline first: this runs for every LoRA field of every row.
    for value in values:
        kind = type(value)
        if (kind is str and (not value or value.isspace())) or (kind is float and value != value):
            break
        if kind is not str and kind is not float and is_blank(value):
            break
    else:
        return []
    return [f for f, v in zip(LORA_FIELDS, values, strict=True) if is_blank(v)]


def _lora(raw: Any, where: str, problems: _Problems) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        problems.add(where, f"must be an object with {', '.join(LORA_FIELDS)}, got {_show(raw)}")
        return None
    values = [raw.get(f) for f in LORA_FIELDS]
    missing = _missing(values)
    if missing:
        problems.add(where, f"missing {', '.join(repr(f) for f in missing)}")
        return None
    lora_id, version, url, name, weight = values
    lora = {
        "id": _lora_id(lora_id),
        "versionId": _lora_id(version),
        "downloadUrl": url.strip() if type(url) is str else _text(url),
        "name": name.strip() if type(name) is str else _text(name),
        "weight": _weight(weight),
    }
    for f, given in (("id", lora_id), ("versionId", version)):
        if lora[f] is None:
            problems.add(where, f"{f} must be a whole number or a string, got {_show(given)}")
    if not _is_url(str(lora["downloadUrl"])):
        problems.add(where, f"downloadUrl must be an http(s) URL, got {_show(url)}")
    if lora["weight"] is None:
        problems.add(
            where, f"weight must be a finite number, got {_show(weight)}{_decimal_hint(weight)}"
        )
    return lora


def _lora_cell(value: Any, problems: _Problems) -> list[tuple[str, Any]]:
    if is_blank(value):
        return []
    if isinstance(value, str):
        try:
            value = jsoncodec.loads(value)
        except json.JSONDecodeError as exc:
            problems.add(
                "loras",
                f"not valid JSON ({exc.msg} at char {exc.pos}); "
                "write a JSON array of LoRA objects, or leave the cell empty",
            )
            return []
    if isinstance(value, Mapping) or not isinstance(value, (Sequence, numpy.ndarray)):
        problems.add("loras", f"must be a JSON array of LoRA objects, got {_show(value)}")
        return []
    return [(f"loras[{i}]", item) for i, item in enumerate(value, 1)]


def _loras(record: Record, problems: _Problems) -> list[dict[str, Any]]:
    entries = _lora_cell(record.cells.get("loras"), problems)
    table = record.table_loras
    if table and entries:
        problems.add("loras", "given both in the manifest and in the LoRA table; keep one")
    elif table:
        entries = [(f"LoRA table row {n}", item) for n, item in table]
    built = [_lora(item, where, problems) for where, item in entries]
    return [lora for lora in built if lora is not None]


def _required(record: Mapping[str, Any], field: str, problems: _Problems) -> str:
    value = record.get(field)
    if type(value) is str:  # the common case first
        text = value.strip()
        if text:
            return text
    if is_blank(value):
        problems.add(field, "is required but empty")
        return ""
    return _plain(value, field, problems) or ""


def _plain(value: Any, field: str, problems: _Problems) -> str | None:
    """A text cell as text (numbers written as numbers are text too); a list, an
    object or bytes is no text, and is never sent as Python would print it."""
    if isinstance(value, str | numbers.Real):
        return _text(value)
    problems.add(field, f"must be text, got {_show(value)}")
    return None


def _body(given: Record, problems: _Problems, allow_large: bool = False) -> dict[str, Any]:
    record = given.cells
    name = _required(record, "name", problems)
    tier = _required(record, "gpu_tier", problems).upper()
    if tier and tier not in GPU_TIERS:
        problems.add(
            "gpu_tier", f"{_show(record['gpu_tier'])} is not one of {', '.join(GPU_TIERS)}"
        )
    url = _required(record, "model_url", problems)
    if url and not _is_url(url):
        problems.add("model_url", f"must be an http(s) URL, got {_show(url)}")
    configuration: dict[str, Any] = {"gpu_tier": tier}
    workers = _workers(record.get("active_workers"), problems, allow_large)
    if workers is not None:
        configuration["active_workers"] = workers
    location = record.get("location")
    if not is_blank(location) and (text := _plain(location, "location", problems)):
        configuration["location"] = text
    workflow: dict[str, Any] = {"model_url": url}
    loras = _loras(given, problems)
    if loras:
        workflow["tools"] = {"loras": loras}
    body: dict[str, Any] = {"name": name}
    description = record.get("description")
    if not is_blank(description) and (text := _plain(description, "description", problems)):
        body["description"] = text
    body["configuration"] = configuration
    body["workflow"] = workflow
    return body


class Validator:
    """Validates records chunk by chunk, numbering rows on from the last chunk. Names
    are remembered (one string per row, not the row) to find those that repeat."""

    def __init__(self, *, team_id: str | None = None, allow_large: bool = False) -> None:
        self.team_id, self.allow_large = team_id, allow_large
        self.count = 0
        self._first_of: dict[str, int] = {}

    def __call__(self, records: Sequence[Record | Mapping[str, Any]]) -> list[Row]:
        """Rows for ``records``; plain mappings of cells are taken as ``Record(cells)``."""
        rows: list[Row] = []
        for record in records:
            self.count += 1
            given = record if isinstance(record, Record) else Record(record)
            rows.append(self._one(self.count, given))
        return rows

    def _one(self, number: int, record: Record) -> Row:
        problems = _Problems()
        team = self.team_id
        if not is_blank(record.cells.get("team_id")):
            team = _text(record.cells["team_id"])
        if record.line_error is not None:
            problems.append(record.line_error)
            name = record.cells.get("name")
            body: dict[str, Any] = {"name": name.strip() if isinstance(name, str) else ""}
        else:
            body = _body(record, problems, self.allow_large)
            problems.extend(record.conflicts)
        name = body["name"]
        if name:
            first = self._first_of.setdefault(f"{team or ''}\x00{name}", number)
            if first != number:
                owner = f" in team {team!r}" if team else ""
                problems.add(
                    "name", f"{name!r} repeats row {first}{owner}; names must be unique per team"
                )
        where = f"row {number}" if record.line is None else f"row {number} (line {record.line})"
        return _row(number, name, team, body, problems, where)


def build_rows(
    records: Sequence[Record | Mapping[str, Any]],
    *,
    team_id: str | None = None,
    allow_large: bool = False,
) -> list[Row]:
    """Validates every record; a valid row gets its body, payload and key, others an error."""
    return Validator(team_id=team_id, allow_large=allow_large)(records)


def _row(
    number: int,
    name: str,
    team: str | None,
    body: dict[str, Any],
    problems: _Problems,
    where: str,
) -> Row:
    if problems:
        return Row(number, name, team, error=f"{where}: " + "; ".join(problems))
    try:
        payload = jsoncodec.dumps(body)
        key = idempotency_key(team, name, payload)
    except UnicodeEncodeError:  # a lone surrogate, from a JSON escape such as "\ud800"
        field = _surrogate_in({"team_id": team, **body}) or "text"
        error = f"{where}: {field}: not valid Unicode (a lone surrogate); fix the escape"
        return Row(number, name, team, error=error)
    workers = body["configuration"].get("active_workers", 0)
    return Row(number, name, team, body, payload, key, workers=workers)


def _surrogate_in(value: Any, path: str = "") -> str | None:
    """The manifest's name for the field holding a lone surrogate (only on that error)."""
    if isinstance(value, str):
        return None if value.isascii() or _encodes(value) else _column(path)
    if isinstance(value, dict):
        items = ((f"{path}.{key}".lstrip("."), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{n}]", item) for n, item in enumerate(value, 1))
    else:
        return None
    return next(filter(None, (_surrogate_in(item, at) for at, item in items)), None)


def _column(path: str) -> str:
    for nesting in ("workflow.tools.", "workflow.", "configuration."):
        path = path.removeprefix(nesting)
    return path


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
