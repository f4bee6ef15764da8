"""bulk's own record of the apps it created lately, kept per user and found by target.

A journal sits beside its results file, so a run with another ``-o`` (a dated one each
night), or with the server's URL spelt another way, would not find the apps the last run
created, and a listing that lags would not show them either. So every app bulk creates
is also noted here: one file per (server, key, team) in the user's cache folder (the
folder of the team locks' kind: 0700, its owner and mode checked), named by a hash of
the server (one spelling: ``server_of``), the key's fingerprint (never the key) and the
team. Each line is ``{"name", "id", "at"}``; the file is 0600 and opened without
following a link.

Only a row missing from the listing reads it (once per team and run); only a row
created writes to it: its line goes to the OS as the row's result comes (a kill loses
nothing), and to the disk, one fsync per run, before the results file reports it (the
hot path pays no fsync of its own: the journal's intents already are). Lines older than
``RETENTION`` are dropped when a run first writes: a listing catches up within seconds
or minutes, and a day bounds the file by what one user creates in a day.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from .._shared.durable import fsync, fsync_dir, replace_durably
from .locks import open_nofollow, private_folder, server_of

__all__ = ["RETENTION", "CreatedIds"]

RETENTION = 24 * 3600.0  # seconds a created app stays in the record

_Entries = dict[str, list[tuple[str, float]]]  # name -> (app id, when created)


class CreatedIds:
    """The apps created lately on one server with one key, by team."""

    def __init__(
        self,
        base_url: str,
        fingerprint: str,
        *,
        clock: Callable[[], float] = time.time,
        retention: float = RETENTION,
    ) -> None:
        self._target = f"{server_of(base_url)}\x00{fingerprint}"
        self._clock, self._retention = clock, retention
        self._read: dict[str | None, _Entries] = {}
        self._open: dict[str | None, int] = {}
        self._stale: set[str | None] = set()  # teams whose file holds lines past retention

    def path(self, team: str | None) -> Path:
        digest = hashlib.sha256(f"{self._target}\x00{team or ''}".encode()).hexdigest()[:32]
        return private_folder("created", "record folder") / f"{digest}.jsonl"

    def ids(self, team: str | None, name: str) -> list[str]:
        """The ids of the apps of that name created lately, the newest first."""
        if team not in self._read:
            self._read[team] = self._load(team)
        return [app_id for app_id, _ in reversed(self._read[team].get(name, ()))]

    def _load(self, team: str | None) -> _Entries:
        entries: _Entries = {}
        oldest = self._clock() - self._retention
        try:
            fd = open_nofollow(self.path(team), os.O_RDONLY, "record")
        except FileNotFoundError:
            return entries
        with open(fd, "rb") as lines:
            for line in lines:
                try:
                    event = json.loads(line)
                    name, app_id, at = str(event["name"]), str(event["id"]), float(event["at"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill
                if at >= oldest:
                    entries.setdefault(name, []).append((app_id, at))
                else:
                    self._stale.add(team)
        return entries

    def add(self, team: str | None, name: str, app_id: str) -> None:
        """Notes the app: to the OS at once (a kill loses nothing), to the disk by
        ``close``, before the results file is written."""
        fd = self._opened(team)
        at = round(self._clock(), 3)
        data = (json.dumps({"name": name, "id": app_id, "at": at}) + "\n").encode()
        while data:  # a write to a regular file is whole, unless the disk is full
            data = data[os.write(fd, data) :]
        self._read[team].setdefault(name, []).append((app_id, at))

    def _opened(self, team: str | None) -> int:
        if team not in self._open:
            path = self.path(team)
            self.ids(team, "")  # read (and so pruned) before the first write
            if team in self._stale:
                self._rewrite(path, self._read[team])
            fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "record")
            os.fchmod(fd, 0o600)  # private whatever the umask said
            self._open[team] = fd
            fsync_dir(path.parent)  # the file's name survives a power cut too
        return self._open[team]

    def _rewrite(self, path: Path, entries: _Entries) -> None:
        """Keeps only the lines within the retention: the file stays a day's worth."""
        spare = path.with_name(path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            spare.unlink()
        fd = open_nofollow(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "record")
        with open(fd, "wb") as out:
            for name, found in entries.items():
                for app_id, at in found:
                    out.write((json.dumps({"name": name, "id": app_id, "at": at}) + "\n").encode())
        replace_durably(spare, path)

    def close(self) -> None:
        """Puts every line on disk: one fsync per team written, once per run."""
        for fd in self._open.values():
            fsync(fd)
            os.close(fd)
        self._open.clear()
