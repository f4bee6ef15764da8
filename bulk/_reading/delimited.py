"""CSV and TSV as spreadsheets export them: the delimiter sniffed among , ; tab and |,
any text encoding (UTF-8 by default, a BOM tolerated), empty lines skipped, and each
record with the line it starts on, so that an error can name it.

Read with the standard library's ``csv`` module: every cell arrives as the text written
(``007310`` stays ``007310``), and a line with more cells than the header is one row's
error, not the file's.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._shared.boms import encoding_of_file
from .._shared.errors import ManifestError
from .records import BadLine, Raw

__all__ = [
    "Reading",
    "delimited_header",
    "delimited_rows",
    "record_of",
    "records_in_chunks",
    "where_undecodable",
]

_DELIMITERS = ",;\t|"
_SAMPLE = 64 * 1024
# A cell may be as large as a file (a long description): its size is judged on the body
# it makes (--max-body-bytes), with the row named, not by the csv module's 128 KiB limit
# that refuses the whole file. 2**31 - 1 is the most every platform's C long holds.
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))


@dataclass(frozen=True, slots=True)
class Reading:
    """How to read text files: ``delimiter`` None sniffs it; ``sheet`` is for .xlsx."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    sheet: str | None = None
    loras_encoding: str = "utf-8"  # the LoRA table's: --encoding is the manifest's only

    def text_encoding(self, path: Path) -> str:
        """UTF-8, the default, gives way to what a BOM declares (UTF-8's from Excel,
        UTF-16's from PowerShell or "Unicode Text"); another --encoding is the user's word."""
        if codecs.lookup(self.encoding).name != "utf-8":
            return self.encoding
        return encoding_of_file(path) or "utf-8-sig"

    def of_loras(self) -> Reading:
        """How the LoRA table is read: its own encoding, the manifest's other settings."""
        return Reading(self.loras_encoding, self.delimiter, self.sheet, self.loras_encoding)


def _dialect(path: Path, reading: Reading, sample: str) -> str:
    if reading.delimiter is not None:
        return reading.delimiter
    if path.suffix.lower() == ".tsv":
        return "\t"
    # The header tells: the delimiter it holds most. (csv.Sniffer weighs every line, and
    # one ragged line, or a comma inside a description, throws it.)
    header = next((line for line in sample.splitlines() if line.strip()), "")
    counts = {mark: header.count(mark) for mark in _DELIMITERS}
    best = max(counts, key=lambda mark: counts[mark])
    return best if counts[best] else ","


def _open(path: Path, reading: Reading) -> tuple[io.TextIOWrapper, str]:
    text = path.open(encoding=reading.text_encoding(path), newline="")
    try:
        sample = text.read(_SAMPLE)
        text.seek(0)
    except UnicodeDecodeError:
        text.close()
        raise
    return text, _dialect(path, reading, sample)


def delimited_header(path: Path, reading: Reading) -> list[str]:
    text, delimiter = _open(path, reading)
    with text:
        for cells in csv.reader(text, delimiter=delimiter):
            if any(cell.strip() for cell in cells):
                return cells
    raise ManifestError(f"{str(path)!r} is empty")


def delimited_rows(
    path: Path, reading: Reading, chunk_rows: int
) -> Iterator[list[tuple[int | None, Raw]]]:
    """Chunks of (line, record); a line with more cells than the header is a BadLine."""
    text, delimiter = _open(path, reading)
    with text:
        yield from records_in_chunks(_lines(csv.reader(text, delimiter=delimiter)), chunk_rows)


def _lines(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """Each line that holds something, with the line it starts on."""
    start = 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in cells):  # not an empty line, nor one of ",,,"
            yield line, cells


def records_in_chunks(
    lines: Iterable[tuple[int, list[Any]]], chunk_rows: int
) -> Iterator[list[tuple[int | None, Raw]]]:
    """The first line is the header; each one after it a record, ``chunk_rows`` a chunk."""
    header: list[str] | None = None
    batch: list[tuple[int | None, Raw]] = []
    for line, cells in lines:
        if header is None:
            header = [str(c) for c in cells]
            continue
        batch.append((line, record_of(header, cells)))
        if len(batch) >= chunk_rows:
            yield batch
            batch = []
    if batch:
        yield batch


def record_of(header: list[str], cells: list[Any]) -> Raw:
    """A row's cells by column; more non-empty cells than the header is a BadLine."""
    width = len(header)
    if len(cells) > width:
        extra = [c for c in cells[width:] if str(c).strip()]
        if extra:
            return BadLine(
                f"has {len(cells)} cells but the header has {width}: {extra[0]!r} and any "
                "after it would be lost; quote a cell that holds the delimiter",
                dict(zip(header, cells, strict=False)),
            )
    return dict(zip(header, cells + [""] * (width - len(cells)), strict=False))


def where_undecodable(path: Path, encoding: str) -> str:
    """Where a file first fails to decode: "line 12, byte 7 (0x92)"."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as raw:
        for number, line in enumerate(raw, 1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return f"line {number}, byte {exc.start + 1} (0x{line[exc.start]:02x})"
    return "somewhere"
