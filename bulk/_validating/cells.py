"""Cells as values: text, numbers, URLs and the LoRA lists, each checked with a message
that names the problem and the fix. Pure, no I/O; ``_payloads`` builds bodies from them."""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

# pandas' own dependency: list cells of a DataFrame may arrive as numpy arrays.
import numpy

from .._reading.manifest import LORA_FIELDS
from .._reading.records import ManifestRecord, is_blank
from .._shared import jsoncodec

__all__ = [
    "MAX_WORKERS",
    "Problems",
    "as_text",
    "decimal_hint",
    "is_url",
    "loras_of",
    "shown",
    "workers_of",
]


def as_text(value: Any) -> str:
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


def shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


# http or https, a host, and no white space anywhere: what urlsplit would accept, at a
# fraction of its cost (this runs for every model and LoRA URL).
_URL = re.compile(r"(?i:https?)://[^/?#\s]+[^\s]*")


def is_url(text: str) -> bool:
    return _URL.fullmatch(text) is not None


class Problems(list[str]):
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


def decimal_hint(value: Any) -> str:
    """A spreadsheet set to a comma locale writes 0,7 for 0.7."""
    decimal_comma = isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value)
    return "; use a decimal point (0.7, not 0,7)" if decimal_comma else ""


# A billing field's text: plain ASCII digits, a sign, a trailing .0 from a spreadsheet;
# never Python's own forms (1_000, 1e3, full-width or Arabic-Indic digits).
_PLAIN_WHOLE = re.compile(r"\s*([-+]?)0*([0-9]+)(?:\.0*)?\s*")
_PLAIN_DECIMAL = re.compile(r"\s*[-+]?[0-9]*\.?[0-9]*\s*")


def _whole_number(value: Any) -> int | None:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        plain = _PLAIN_WHOLE.fullmatch(value)
        if plain is None:
            return None
        sign, digits = plain.groups()
        # Past JSON's safe integers the exact value no longer matters (and int() of
        # thousands of digits is refused).
        whole = int(digits) if len(digits) <= 17 else _JSON_SAFE + 1
        return -whole if sign == "-" else whole
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


MAX_WORKERS = 1_000  # more in one row is taken for a typo (an extra zero)
_JSON_SAFE = 2**53 - 1  # the largest integer every JSON reader keeps exact


def _plain_hint(value: Any) -> str:
    pythonic = isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value)
    if pythonic and _number(value) is not None:
        return "; write plain digits (1000, not 1_000 or 1e3)"
    return decimal_hint(value)


def workers_of(value: Any, problems: Problems, allow_large: bool) -> int | None:
    if is_blank(value):
        return None
    number = _whole_number(value)
    if number is None or number < 0:
        problems.add(
            "active_workers",
            f"must be a whole number 0 or more, got {shown(value)}{_plain_hint(value)}",
        )
        return None
    if number > _JSON_SAFE:
        problems.add("active_workers", f"{shown(value)} is not a JSON-safe integer")
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
    return None if fraction and not float(value).is_integer() else as_text(value)


# The LoRA fields listings do not echo: an exported manifest cannot hold them.
UNSHOWN = frozenset({"versionId", "downloadUrl"})


def _missing_keys(values: list[Any]) -> list[str]:
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


def _lora(raw: Any, where: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        problems.add(where, f"must be an object with {', '.join(LORA_FIELDS)}, got {shown(raw)}")
        return None
    values = [raw.get(f) for f in LORA_FIELDS]
    missing = _missing_keys(values)
    if not set(missing) <= UNSHOWN:
        problems.add(where, f"missing {', '.join(repr(f) for f in missing)}")
        return None
    lora_id, version, url, name, weight = values
    lora = {
        "id": _lora_id(lora_id),
        "versionId": _lora_id(version),
        "downloadUrl": url.strip() if type(url) is str else as_text(url),
        "name": name.strip() if type(name) is str else as_text(name),
        "weight": _weight(weight),
    }
    for f in missing:  # what listings never show: fine until a create or a weight change
        del lora[f]
    for f, given in (("id", lora_id), ("versionId", version)):
        if f in lora and lora[f] is None:
            problems.add(where, f"{f} must be a whole number or a string, got {shown(given)}")
    if "downloadUrl" in lora and not is_url(str(lora["downloadUrl"])):
        problems.add(where, f"downloadUrl must be an http(s) URL, got {shown(url)}")
    if lora["weight"] is None:
        problems.add(
            where, f"weight must be a finite number, got {shown(weight)}{decimal_hint(weight)}"
        )
    return lora


# A number with a decimal comma as a JSON value ("weight": 0,8): only looked for once the
# cell failed to parse, so a valid array such as [1,2] never gets the hint.
_JSON_DECIMAL_COMMA = re.compile(r":\s*([-+]?\d+),(\d+)(?=\s*[,}\]])")


def _lora_cell(value: Any, problems: Problems) -> list[tuple[str, Any]]:
    if is_blank(value):
        return []
    if isinstance(value, str):
        try:
            value = jsoncodec.loads(value)
        except json.JSONDecodeError as exc:
            comma = _JSON_DECIMAL_COMMA.search(value)
            number = comma and f"{comma[1]}.{comma[2]}, not {comma[1]},{comma[2]}"
            hint = f"; use a decimal point ({number})" if number else ""
            problems.add(
                "loras",
                f"not valid JSON ({exc.msg} at char {exc.pos}){hint}; "
                "write a JSON array of LoRA objects, or leave the cell empty",
            )
            return []
    if isinstance(value, Mapping) or not isinstance(value, (Sequence, numpy.ndarray)):
        problems.add("loras", f"must be a JSON array of LoRA objects, got {shown(value)}")
        return []
    return [(f"loras[{i}]", item) for i, item in enumerate(value, 1)]


def loras_of(record: ManifestRecord, problems: Problems) -> list[dict[str, Any]]:
    entries = _lora_cell(record.cells.get("loras"), problems)
    table = record.table_loras
    if table and entries:
        problems.add("loras", "given both in the manifest and in the LoRA table; keep one")
    elif table:
        entries = [(f"LoRA table row {n}", item) for n, item in table]
    built = [_lora(item, where, problems) for where, item in entries]
    return [lora for lora in built if lora is not None]
