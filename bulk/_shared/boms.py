"""What a byte order mark says of a text file's encoding: PowerShell's ``>`` writes
UTF-16, Notepad and Excel may write UTF-8 with a BOM. Read by the key file and by the
manifest alike."""

from __future__ import annotations

import codecs
from pathlib import Path

__all__ = ["encoding_by_bom", "encoding_of_file"]

# UTF-32's BOMs first: UTF-16's are prefixes of them. The codecs named drop the BOM.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def encoding_by_bom(head: bytes) -> str | None:
    """The encoding the BOM at the start of ``head`` declares, or None."""
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


def encoding_of_file(path: Path) -> str | None:
    """The encoding the file's BOM declares, or None (also when it cannot be read: the
    reading that follows says why)."""
    try:
        with path.open("rb") as raw:
            return encoding_by_bom(raw.read(4))
    except OSError:
        return None
