"""``.xlsx`` manifests and LoRA tables, through openpyxl (the optional ``excel`` extra):
the first sheet unless one is named, empty rows skipped, each row with its number as
the spreadsheet shows it."""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._shared.errors import ManifestError
from .delimited import records_in_chunks

__all__ = ["excel_table"]

MISSING = (
    "reading .xlsx needs openpyxl, bulk's excel extra: pip install openpyxl "
    "(or save the sheet as CSV UTF-8)"
)


def _book(path: Path) -> Any:
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:
        raise ManifestError(MISSING) from None
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as exc:
        raise ValueError(str(exc)) from None  # said as "cannot be read as xlsx: ..."


def _sheet(book: Any, name: str | None) -> Any:
    if name is None:
        return book.worksheets[0]
    if name not in book.sheetnames:
        known = ", ".join(repr(s) for s in book.sheetnames)
        raise ValueError(f"it has no sheet {name!r} (sheets: {known})")
    return book[name]


def _sheet_lines(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
        cells = ["" if v is None else v for v in values]
        if any(str(c).strip() for c in cells):
            yield number, cells


def excel_table(path: Path, sheet: str | None, chunk_rows: int) -> Iterator[Any]:
    """The header first, then chunks of (line, record), from one opening of the
    workbook, closed when the chunks end or the caller closes this generator."""
    book = _book(path)
    try:
        lines = _sheet_lines(_sheet(book, sheet))
        first = next(lines, None)
        if first is None:
            raise ValueError("it is empty")
        yield [str(c) for c in first[1]]
        yield from records_in_chunks(itertools.chain([first], lines), chunk_rows)
    finally:
        book.close()
