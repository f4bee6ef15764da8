"""What passes from reading to validating: one manifest row as read (``ManifestRecord``), a line
that could not be read at all (``BadLine``), and the one test of an empty cell."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["BadLine", "ManifestRecord", "Raw", "is_blank"]


class BadLine(NamedTuple):
    """A source line that cannot be one app (a JSONL line that is not an object, a line
    with more cells than the header): ``cells`` holds what could be read of it."""

    message: str
    cells: dict[str, Any] | None = None


# A row as a file reader hands it over: cells by column name, or a line it could not read.
Raw = dict[str, Any] | BadLine


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """One manifest row: its cells under their canonical names, raw, and what reading
    found out about it. The validator turns it into a ``Row``."""

    cells: Mapping[str, Any] = field(default_factory=dict)
    line_error: str | None = None  # the line could not be read (its message)
    line: int | None = None  # where it starts in the file or sheet, when it has lines
    conflicts: tuple[str, ...] = ()  # fields given twice, under two names
    table_loras: tuple[tuple[int, Mapping[str, Any]], ...] = ()  # (table row, LoRA)


def is_blank(value: Any) -> bool:
    """An empty cell: missing, None, NaN, pandas' NA or NaT, or only white space."""
    if type(value) is str:  # the common case first: this runs many times per row
        return not value.strip()
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, float):
        return math.isnan(value)
    # pd.NA and NaT are the only other "missing" scalars a DataFrame hands back.
    return type(value).__name__ in ("NAType", "NaTType")
