"""Step 2: the digest of the rows, made in the one pass before sending. It belongs to the
rows; the journal only records it, so that ``--resume`` never finishes one run's work with
another's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .payloads import Row

__all__ = ["RowsDigest"]


class RowsDigest:
    """A digest of what the rows ask for (LoRA tables included), fed chunk by chunk: a
    changed manifest changes it, a manifest read from another format with the same rows
    does not. Teams are hashed apart: ``Binding`` compares them on their own, to say so."""

    def __init__(self) -> None:
        self._rows, self._placement = hashlib.sha256(), hashlib.sha256()

    def update(self, rows: Iterable[Row]) -> None:
        for row in rows:
            what = row.payload or (row.target or row.error or "").encode()
            self._rows.update(f"{row.number}\x00{row.name}\x00".encode() + what)
            self._placement.update(f"{row.number}\x00{row.team or ''}\x00".encode())

    def hexdigest(self) -> str:
        return f"{self._rows.hexdigest()[:32]}-{self._placement.hexdigest()[:16]}"
