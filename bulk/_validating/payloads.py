"""Step 2: validating records and building the exact ``POST /app`` bodies. Pure, no I/O.

Each row is checked whole, so that a user sees every problem of a row at once; a bad row
never stops the others and is never sent.
"""

from __future__ import annotations

import hashlib
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .._reading.records import ManifestRecord, is_blank

# pandas' own dependency: list cells of a DataFrame may arrive as numpy arrays.
from .._shared import jsoncodec
from .cells import Problems, as_text, is_url, loras_of, shown, workers_of

__all__ = ["GPU_TIERS", "MAX_BODY_BYTES", "Op", "Row", "Validator", "idempotency_key"]

GPU_TIERS = ("BASIC", "STANDARD", "PERFORMANCE")
MAX_BODY_BYTES = 1_048_576  # a body larger than this is taken for a mistake (--max-body-bytes)
# What a row asks of the server: POST its body, PUT the changes to ``target``, DELETE it.
Op = Literal["create", "update", "delete"]
# Control characters but tab and newline (CR only as part of a Windows line break): a NUL
# in a name is stored by the server and shown as a space, an app no one can find by name.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")
# How a JSON body spells them (escaped below 0x20, raw UTF-8 above): a cheap test of the
# whole body before the exact one, field by field.
_MAYBE_CONTROL = re.compile(rb"\\u00|\\[bfr]|\x7f|\xc2[\x80-\x9f]")


@dataclass(frozen=True, slots=True)
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
    op: Op = "create"
    target: str | None = None
    scale_down: bool = False
    workers: int = 0  # the active workers it asks for (the cost guard adds them up)
    label: int = 0  # the row number to show, when it is not ``number`` (a rollback's)


def idempotency_key(team: str | None, name: str, payload: bytes) -> str:
    digest = hashlib.sha256(f"{team or ''}\x00{name}\x00".encode() + payload).hexdigest()
    return f"bulk-{digest[:40]}"


def _required(record: Mapping[str, Any], field: str, problems: Problems) -> str:
    value = record.get(field)
    if type(value) is str:  # the common case first
        text = value.strip()
        if text:
            return text
    if is_blank(value):
        problems.add(field, "is required but empty")
        return ""
    return _plain(value, field, problems) or ""


def _plain(value: Any, field: str, problems: Problems) -> str | None:
    """A text cell as text (numbers written as numbers are text too); a list, an
    object or bytes is no text, and is never sent as Python would print it."""
    if isinstance(value, str | numbers.Real):
        return as_text(value)
    problems.add(field, f"must be text, got {shown(value)}")
    return None


def _body(given: ManifestRecord, problems: Problems, allow_large: bool = False) -> dict[str, Any]:
    record = given.cells
    name = _required(record, "name", problems)
    tier = _required(record, "gpu_tier", problems).upper()
    if tier and tier not in GPU_TIERS:
        problems.add(
            "gpu_tier", f"{shown(record['gpu_tier'])} is not one of {', '.join(GPU_TIERS)}"
        )
    url = _required(record, "model_url", problems)
    if url and not is_url(url):
        problems.add("model_url", f"must be an http(s) URL, got {shown(url)}")
    configuration: dict[str, Any] = {"gpu_tier": tier}
    workers = workers_of(record.get("active_workers"), problems, allow_large)
    if workers is not None:
        configuration["active_workers"] = workers
    location = record.get("location")
    if not is_blank(location) and (text := _plain(location, "location", problems)):
        configuration["location"] = text
    workflow: dict[str, Any] = {"model_url": url}
    loras = loras_of(given, problems)
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

    def __init__(
        self,
        *,
        team_id: str | None = None,
        allow_large: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.team_id, self.allow_large = team_id, allow_large
        self.max_body_bytes = max_body_bytes
        self.count = 0
        self._first_of: dict[str, int] = {}

    def __call__(self, records: Sequence[ManifestRecord | Mapping[str, Any]]) -> list[Row]:
        """Rows for ``records``; plain mappings of cells are taken as ``ManifestRecord(cells)``."""
        rows: list[Row] = []
        for record in records:
            self.count += 1
            given = record if isinstance(record, ManifestRecord) else ManifestRecord(record)
            rows.append(self._one(self.count, given))
        return rows

    def _one(self, number: int, record: ManifestRecord) -> Row:
        problems = Problems()
        team = self.team_id
        if not is_blank(record.cells.get("team_id")):
            team = as_text(record.cells["team_id"])
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
        return _row(number, name, team, body, problems, where, self.max_body_bytes)


def _row(
    number: int,
    name: str,
    team: str | None,
    body: dict[str, Any],
    problems: Problems,
    where: str,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Row:
    if problems:
        return Row(number, name, team, error=f"{where}: " + "; ".join(problems))
    try:
        payload = jsoncodec.dumps(body)
        key = idempotency_key(team, name, payload)
    except UnicodeEncodeError:  # a lone surrogate, from a JSON escape such as "\ud800"
        field = _find({"team_id": team, **body}, _has_surrogate) or "text"
        error = f"{where}: {field}: not valid Unicode (a lone surrogate); fix the escape"
        return Row(number, name, team, error=error)
    unsendable = _unsendable(payload, {"team_id": team, **body}, max_body_bytes)
    if unsendable:
        return Row(number, name, team, error=f"{where}: {unsendable}")
    workers = body["configuration"].get("active_workers", 0)
    return Row(number, name, team, body, payload, key, workers=workers)


def _unsendable(payload: bytes, fields: dict[str, Any], max_body_bytes: int) -> str | None:
    """A body the server should never get: a control character in a text, or a size no
    app needs (a cell holding a whole file, say). Said with the field to fix."""
    maybe = b"\\" in payload or b"\x7f" in payload or b"\xc2" in payload  # memchr-fast
    if maybe and _MAYBE_CONTROL.search(payload):
        for field, text in _texts(fields):
            found = _CONTROL.search(text)
            if found:
                return _control_message(field, found)
    if len(payload) > max_body_bytes:
        largest = max(_texts(fields), key=lambda pair: len(pair[1]), default=("body", ""))
        return (
            f"{largest[0]}: the body would be {len(payload):,} bytes, more than "
            f"--max-body-bytes {max_body_bytes:,} (max_body_bytes=); shorten it"
        )
    return None


def _control_message(field: str, found: re.Match[str]) -> str:
    where = f"at character {found.start() + 1}"
    if found[0] == "\r":  # a line break of old Macs, which the server shows as nothing
        return (
            f"{field}: holds a carriage return (U+000D) without a line feed {where} (a "
            "text may hold tab and line breaks, LF or CR LF); make it a line feed"
        )
    return (
        f"{field}: holds the control character U+{ord(found[0]):04X} {where} (only tab "
        "and line breaks, LF or CR LF, may be in a text); remove it"
    )


def _texts(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every text in a body, with the manifest's name for its field."""
    if isinstance(value, str):
        return [(_column(path), value)]
    if isinstance(value, dict):
        items = [(f"{path}.{key}".lstrip("."), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{n}]", item) for n, item in enumerate(value, 1)]
    else:
        return []
    return [pair for at, item in items for pair in _texts(item, at)]


def _find(value: Any, bad: Any) -> str | None:
    """The manifest's name for the first field whose text is ``bad`` (only on an error)."""
    return next((field for field, text in _texts(value) if bad(text)), None)


def _has_surrogate(text: str) -> bool:
    return not text.isascii() and not _encodes(text)


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
