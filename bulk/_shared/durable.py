"""What is written survives a power cut: fsync before a request goes out, and before
and after a rename.

A ``write`` reaches the OS, which survives a kill but not a power cut: only ``fsync``
puts the bytes on disk. The journal's intents are fsynced before their request goes out,
by group commit: one fsync, run in a worker thread, covers every intent written while
the previous one ran, so a pool of N workers pays about one fsync per round of N
requests, not one per request. A file that replaces another is fsynced before the
rename, and its directory after it, so that the rename itself is on disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.to_thread

__all__ = ["GroupCommit", "fsync", "fsync_dir", "replace_durably"]


def fsync(fd: int) -> None:
    """``os.fsync``, by a name of our own that tests can count."""
    os.fsync(fd)


def fsync_dir(path: Path) -> None:
    """Puts the directory's entries (a rename, a new file) on disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Renames ``source`` over ``target``, its bytes on disk first, the rename after."""
    fd = os.open(source, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)
    os.replace(source, target)
    fsync_dir(target.parent)


class GroupCommit:
    """fsyncs one file for many writers. ``wrote()`` marks a write; ``durable(mark)``
    returns once an fsync that started after that write has ended. Writers that wrote
    while an fsync ran share the next one."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._written = 0  # writes marked
        self._synced = 0  # writes known to be on disk
        self._running: anyio.Event | None = None
        self.syncs = 0

    def wrote(self) -> int:
        self._written += 1
        return self._written

    async def durable(self, mark: int) -> None:
        while self._synced < mark:
            if self._running is not None:
                await self._running.wait()  # it may have started before our write
                continue
            covered, done = self._written, anyio.Event()
            self._running = done
            try:
                await anyio.to_thread.run_sync(fsync, self._fd)
                self.syncs += 1
                self._synced = max(self._synced, covered)
            finally:
                self._running = None
                done.set()

    def sync_now(self) -> None:
        """Every write so far on disk, at once (at the end of a run)."""
        fsync(self._fd)
        self.syncs += 1
        self._synced = self._written
