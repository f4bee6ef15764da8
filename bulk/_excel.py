"""``.xlsx`` manifests and LoRA tables, through openpyxl (the optional ``excel`` extra):
the first sheet unless one is named, empty rows skipped, each row with its number as
the spreadsheet shows it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._delimited import records_in_chunks
from ._errors import ManifestError
from ._records import Raw

__all__ = ["excel_header", "excel_rows"]

MISSING = (
    "reading .xlsx needs openpyxl, from the excel extra: pip install 'rungen-bulk[excel]' "
    "(or save the sheet as CSV UTF-8)"
)


def _sheet(path: Path, name: str | None) -> Any:
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:
        raise ManifestError(MISSING) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as exc:
        raise ValueError(str(exc)) from None  # said as "cannot be read as xlsx: ..."
    if name is None:
        return book.worksheets[0]
    if name not in book.sheetnames:
        known = ", ".join(repr(s) for s in book.sheetnames)
        raise ValueError(f"it has no sheet {name!r} (sheets: {known})")
    return book[name]


def _lines(path: Path, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    for number, values in enumerate(_sheet(path, sheet).iter_rows(values_only=True), 1):
        cells = ["" if v is None else v for v in values]
        if any(str(c).strip() for c in cells):
            yield number, cells


def excel_header(path: Path, sheet: str | None) -> list[str]:
    for _, cells in _lines(path, sheet):
        return [str(c) for c in cells]
    raise ValueError("it is empty")


def excel_rows(
    path: Path, sheet: str | None, chunk_rows: int
) -> Iterator[list[tuple[int | None, Raw]]]:
    return records_in_chunks(_lines(path, sheet), chunk_rows)
