"""Step 3: the journal, one JSON line per event, appended as it happens.

Each line goes to the OS in one ``write`` on a file opened for appending, so a run killed
with SIGKILL loses nothing written before the kill (at worst the line being written is
cut short, and reading skips it). The intent to send a row is written before its POST
goes out: a row with an intent and no ``created`` line may exist on the server, and is
looked up before it is sent again.

A journal is bound to its target: its first line records the base URL, the teams, a
fingerprint of the key (never the key) and a digest of the manifest's rows. Only
``--resume`` reads it, and only for the same target; a fresh run reads nothing from it
for ids, and moves a finished one aside to ``<stem>.journal.1.jsonl``, unless no run of
it sent a request: that one is only replaced, so that the last journal of a run that
sent stays beside the new one. The journal is readable by its owner only.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from .._output.results import Result, same_file
from .._shared.durable import GroupCommit, fsync_dir, replace_durably
from .._shared.errors import UsageError
from .._shared.logs import log
from .._validating.payloads import Row
from .binding import FORMAT, Binding
from .locks import hold, lock_teams, no_symlink, open_nofollow, release

__all__ = [
    "FORMAT",
    "Binding",
    "Journal",
    "Prior",
    "check_journal",
    "journal_path",
    "let_land",
    "lock_teams",
    "read_journal",
    "salted_key",
]

_QUEUE = 256  # result lines that may wait for the next write
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def journal_path(output: str | os.PathLike[str]) -> Path:
    path = Path(output)
    return path.with_name(f"{path.stem}.journal.jsonl")


def _rotated(path: Path) -> Path:
    return path.with_name(path.name.replace(".journal.jsonl", ".journal.1.jsonl"))


def check_journal(path: Path, *, inputs: Sequence[tuple[str, object]]) -> None:
    """The journal, and the older one it may be moved to, never replace an input, and
    neither is a planted link (refused before anything is sent, not when first read)."""
    for journal in (path, _rotated(path)):
        no_symlink(journal, "journal")
        for what, given in inputs:
            if isinstance(given, str | os.PathLike) and same_file(journal, Path(given)):
                raise UsageError(
                    f"the journal of this output would be {str(journal)!r}, which is the "
                    f"{what}: it would be overwritten; choose another --output (-o)"
                )


@dataclass(slots=True)
class Prior:
    """What earlier runs learnt of one (team, name)."""

    app_id: str | None = None  # the id an earlier run got for the app it created
    sent: bool = False  # a POST may have gone out
    existing: tuple[str, ...] = ()  # apps of that name already there before it was sent
    unanswered_at: float | None = None  # wall-clock send time of a POST with no result
    status: str | None = None  # the last result recorded
    known: str | None = None  # the last app id recorded for it, whatever the status


@dataclass(slots=True)
class Earlier:
    rows: dict[tuple[str | None, str], Prior] = field(default_factory=dict)
    finished: bool = True  # the last run reached its end and wrote its results
    target: dict[str, Any] | None = None  # the first start line
    sent: bool = False  # some run of this journal sent a POST
    timeout: float | None = None  # the request timeout of the last run that started
    run_id: str | None = None  # of the run the journal began with; its resumes keep it

    def last_unanswered(self) -> float | None:
        """When the last POST whose answer was never recorded went out (wall clock)."""
        return max((p.unanswered_at for p in self.rows.values() if p.unanswered_at), default=None)


def read_journal(path: str | os.PathLike[str]) -> Earlier:
    earlier = Earlier()
    opened = open_nofollow(Path(path), os.O_RDONLY, "journal")
    # Read as bytes and decoded line by line: a kill may cut the last line inside a
    # multibyte character (names are written as they are), and only that line is lost.
    with open(opened, "rb") as lines:
        for line in lines:
            try:
                event = json.loads(line.decode("utf-8"))
                kind = event["event"]
            except (ValueError, KeyError, TypeError):  # UnicodeDecodeError included
                continue  # a line cut short by a kill
            _apply(earlier, kind, event)
    return earlier


def _apply(earlier: Earlier, kind: str, event: dict[str, Any]) -> None:
    if kind in ("start", "end"):
        earlier.finished = kind == "end"
        if kind == "start" and earlier.target is None:
            earlier.target = event.get("target") or {}
            earlier.run_id = event.get("run") if isinstance(event.get("run"), str) else None
        if kind == "start" and isinstance(event.get("timeout"), int | float):
            earlier.timeout = float(event["timeout"])
        return
    prior = earlier.rows.setdefault((event.get("team"), str(event.get("name"))), Prior())
    if kind == "intent":
        prior.sent = earlier.sent = True
        prior.existing = tuple(event.get("existing") or ())
        at = event.get("at")
        prior.unanswered_at = float(at) if isinstance(at, int | float) else 0.0
        return
    prior.unanswered_at = None
    if kind == "result":
        prior.status = event.get("status")
        prior.known = event.get("app_id") or prior.known
    if kind == "result" and event.get("status") == "created" and event.get("app_id"):
        prior.app_id = event["app_id"]


class Journal:
    """Appends events; ``None`` paths make it a no-op, for runs without an output."""

    def __init__(self, path: Path | None, *, resume: bool, target: Binding | None = None) -> None:
        self.path, self.target = path, target
        # Rows whose intent this run wrote and whose result it has not: maybe applied.
        self.sent: set[int] = set()
        self.intents = 0  # intents written by this run (and the runs it resumes)
        self._fd: int | None = None
        self._lock: tuple[Path, int] | None = None
        self._queue: list[str] = []
        self._commit: GroupCommit | None = None
        self.earlier = Earlier()
        self.last: Path | None = None  # the last finished journal, kept beside this one
        self.run_id = secrets.token_hex(8)
        if path is None:
            return
        self._lock = _locked(path)
        try:
            self._open(path, resume)
        except BaseException:
            self.close()
            raise

    def _open(self, path: Path, resume: bool) -> None:
        target = self.target
        no_symlink(path, "journal")
        ended = _ended(path) if not resume and path.exists() else None
        if ended is not None:
            # Finished: nothing in it for this run, unless a lagging listing asks (then
            # it is read). A nightly run does not read its 50,000 lines for nothing.
            self._set_aside(path, sent=ended.get("sent") != 0)  # older ends say nothing
            self._create(path)
            return
        earlier = read_journal(path) if path.exists() else None
        if resume:
            self.earlier = _resumable(path, earlier, target)
            self.run_id = self.earlier.run_id or self.run_id
            self.intents = int(self.earlier.sent)
        elif earlier is not None and not earlier.finished and earlier.sent:
            raise UsageError(
                f"an earlier run stopped before its end (journal {str(path)!r}); pass "
                "--resume (resume=True) to finish it without creating apps twice, or move "
                "the journal away to start over"
            )
        elif earlier is not None:
            self._set_aside(path, sent=earlier.sent)
        self._create(path)

    @staticmethod
    def _set_aside(path: Path, *, sent: bool) -> None:
        """A journal whose runs sent a request is kept as the evidence of the last run
        that did; one that sent none (a server that could not be reached, a key refused,
        every app there already) is only replaced: it must not push that evidence out."""
        if sent:
            replace_durably(path, _rotated(path))
        else:
            path.unlink()

    def _create(self, path: Path) -> None:
        if _rotated(path).exists():
            self.last = _rotated(path)
        self._fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "journal")
        os.fchmod(self._fd, 0o600)  # private whatever the umask or an older file said
        self._commit = GroupCommit(self._fd)
        fsync_dir(path.parent)  # the journal's own name survives a power cut too

    def _write(self, event: dict[str, Any], *, now: bool = True) -> None:
        """Queues the line; ``now`` sends the queue to the OS in one ``write``. An intent
        always goes now, before its POST; a result may wait for the next intent (a lost
        result line costs a listing on --resume, never a second app)."""
        if self._fd is None:
            return
        self._queue.append(_json(event))
        if now or len(self._queue) >= _QUEUE:
            self.flush()

    def flush(self) -> None:
        if self._fd is not None and self._queue:
            data = ("\n".join(self._queue) + "\n").encode()
            self._queue.clear()
            while data:  # a write to a regular file is whole, unless the disk is full
                data = data[os.write(self._fd, data) :]

    def start(self, source: str, rows: int, *, timeout: float | None = None) -> None:
        event: dict[str, Any] = {"event": "start", "manifest": source, "rows": rows}
        event["run"] = self.run_id  # the Idempotency-Keys of this run and its resumes
        if timeout is not None:  # how long this run's requests may take to land
            event["timeout"] = timeout
        if self.target is not None:
            event["target"] = self.target.to_json()
        self._write(event)

    def intent(self, row: Row) -> int:
        """Writes the row's intent to the OS; ``durable`` of what it returns waits until
        it is on disk too."""
        self.sent.add(row.number)
        self.intents += 1
        if self._fd is None or self._commit is None:
            return 0
        # Written out by hand: one line per POST, on the hot path.
        line = (
            f'{{"event":"intent","row":{row.number},"team":{_json(row.team)},'
            f'"name":{_json(row.name)},"key":{_json(row.key)},"at":{time.time():.3f}'
        )
        if row.existing:
            line += f',"existing":{_json(list(row.existing))}'
        self._queue.append(line + "}")
        self.flush()
        return self._commit.wrote()

    async def durable(self, mark: int) -> None:
        """Returns once the intent ``mark`` is on disk (group commit): its request may go
        out then, and a power cut cannot lose it."""
        if self._commit is not None and mark:
            await self._commit.durable(mark)

    def result(self, row: Row, result: Result) -> None:
        self.sent.discard(row.number)
        self._write(
            {
                "event": "result",
                "row": row.number,
                "team": row.team,
                "name": row.name,
                "status": result.status,
                "app_id": result.app_id,
                "error_kind": result.error_kind,
            },
            now=False,
        )

    def end(self) -> None:
        # Whether any request was sent, where the next run reads it from the tail alone.
        self._write({"event": "end", "sent": self.intents})

    @property
    def syncs(self) -> int:
        """fsyncs of this journal so far."""
        return 0 if self._commit is None else self._commit.syncs

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
            if self._commit is not None:
                self._commit.sync_now()
            os.close(self._fd)
            self._fd = None
        if self._lock is not None:
            release(*self._lock)  # and with it the lock file
            self._lock = None


def _ended(path: Path) -> dict[str, Any] | None:
    """The journal's last line, when it says its run reached its end: read from its
    tail only."""
    with open(path, "rb") as file:
        file.seek(max(file.seek(0, os.SEEK_END) - 4096, 0))
        tail = file.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        event = json.loads(tail)
    except ValueError:
        return None
    return event if isinstance(event, dict) and event.get("event") == "end" else None


def _locked(path: Path) -> tuple[Path, int]:
    """Holds ``<journal>.lock`` for the run: two runs of one journal at once could each
    take the other's apps for missing ones. The OS drops the lock when a run dies."""
    lock = Path(f"{path}.lock")
    busy = (
        f"another run is using the journal {str(path)!r} right now; wait for it to end "
        "(two runs of one journal at once could create apps twice)"
    )
    return lock, hold(lock, busy)


def salted_key(key: str, run_id: str) -> str:
    """A row's Idempotency-Key for one run and its resumes: a later run sends a fresh
    one, so a server that remembers keys cannot answer it with an app since deleted."""
    return "bulk-" + hashlib.sha256(f"{key}\x00{run_id}".encode()).hexdigest()[:40]


def _resumable(path: Path, earlier: Earlier | None, target: Binding | None) -> Earlier:
    if earlier is None:
        raise UsageError(f"nothing to resume: no journal {str(path)!r} from an earlier run")
    if target is not None:
        differences = target.differences(earlier.target or {})
        if differences:
            raise UsageError(
                f"--resume refused: the journal {str(path)!r} belongs to another target: "
                + "; ".join(differences)
                + ". To start over against this target, move the journal away and run "
                "without --resume"
            )
    return earlier


async def let_land(
    earlier: Earlier, timeout: float, *, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
) -> None:
    """A killed run's last requests may still be reaching the server. With no answer
    recorded, only a listing taken after they could land may say they created nothing
    (the bound a run uses for its own requests: one timeout, that run's, after the send)."""
    last, timeout = earlier.last_unanswered(), earlier.timeout or timeout
    wait = 0.0 if last is None else min(timeout, last + timeout - time.time())
    if wait > 0:
        log.info(
            f"waiting {wait:.0f} s for the last requests of the stopped run to reach the "
            "server before looking them up (Ctrl-C stops)"
        )
        await sleep(wait)
