"""Rows and results parked on disk between the steps, so memory stays flat in the
manifest's size.

A spool is an unnamed temporary file of pickled batches: it is written once, read back
in order, and vanishes with the process, even one killed with SIGKILL. It holds what
bulk built itself (prepared rows, results), never the user's data as given, and it is
not the journal: nothing is resumed from it.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = ["Spool"]


class Spool:
    """Append batches of tuples; read them back, in order, as often as needed."""

    def __init__(self) -> None:
        # Kept open for the spool's life; closed by close() or with the spool.
        self._file: Any = tempfile.TemporaryFile(prefix="bulk-")  # noqa: SIM115
        self.count = 0  # items written
        self._end = 0

    def append(self, batch: list[Any]) -> None:
        if batch:
            self._file.seek(self._end)  # a read may have moved the position
            pickle.dump(batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._end = self._file.tell()
            self.count += len(batch)

    def batches(self) -> Iterator[list[Any]]:
        """The batches in the order they were written."""
        self._file.flush()
        offset = 0
        while offset < self._end:
            # Each read seeks afresh: readers and the writer do not disturb each other.
            self._file.seek(offset)
            batch = pickle.load(self._file)
            offset = self._file.tell()
            yield batch

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
