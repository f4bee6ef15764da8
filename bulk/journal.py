"""Step 6b: the journal, one JSON line per event, appended as it happens.

Each line goes to the OS in one ``write`` on a file opened for appending, so a run killed
with SIGKILL loses nothing written before the kill (at worst the line being written is
cut short, and reading skips it). The intent to send a row is written before its POST
goes out: a row with an intent and no ``created`` line may exist on the server, and is
looked up before it is sent again. The API key is never written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .payloads import Row
from .results import Result

__all__ = ["Journal", "Prior", "journal_path", "read_journal"]


def journal_path(output: str | os.PathLike[str]) -> Path:
    path = Path(output)
    return path.with_name(f"{path.stem}.journal.jsonl")


@dataclass(slots=True)
class Prior:
    """What earlier runs learnt of one (team, name)."""

    app_id: str | None = None  # set once the app is known to exist
    sent: bool = False  # a POST may have gone out


@dataclass(slots=True)
class Earlier:
    rows: dict[tuple[str | None, str], Prior]
    finished: bool  # the last run reached its end and wrote its results


def read_journal(path: str | os.PathLike[str]) -> Earlier:
    rows: dict[tuple[str | None, str], Prior] = {}
    finished = True
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                event = json.loads(line)
                kind = event["event"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill
            if kind in ("start", "end"):
                finished = kind == "end"
                continue
            prior = rows.setdefault((event.get("team"), event.get("name")), Prior())
            if kind == "intent":
                prior.sent = True
            elif kind == "result" and event.get("app_id"):
                prior.app_id = event["app_id"]
    return Earlier(rows, finished)


class Journal:
    """Appends events; ``None`` paths make it a no-op, for runs without an output."""

    def __init__(self, path: Path | None, *, resume: bool) -> None:
        self.path = path
        self._fd: int | None = None
        self.earlier = Earlier({}, True)
        if path is None:
            return
        if path.exists():
            self.earlier = read_journal(path)
            if not resume and not self.earlier.finished:
                raise UsageError(
                    f"an earlier run stopped before its end (journal {str(path)!r}); pass "
                    "--resume (resume=True) to finish it without creating apps twice, or "
                    "delete the journal to start over"
                )
        elif resume:
            raise UsageError(f"nothing to resume: no journal {str(path)!r} from an earlier run")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if resume else os.O_TRUNC)
        self._fd = os.open(path, flags, 0o644)

    def _write(self, event: dict[str, Any]) -> None:
        if self._fd is not None:
            line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
            os.write(self._fd, line.encode())

    def start(self, source: str, rows: int) -> None:
        self._write({"event": "start", "manifest": source, "rows": rows})

    def intent(self, row: Row) -> None:
        self._write(
            {
                "event": "intent",
                "row": row.number,
                "team": row.team,
                "name": row.name,
                "key": row.key,
            }
        )

    def result(self, row: Row, result: Result) -> None:
        self._write(
            {
                "event": "result",
                "row": row.number,
                "team": row.team,
                "name": row.name,
                "status": result.status,
                "app_id": result.app_id,
                "error_kind": result.error_kind,
            }
        )

    def end(self) -> None:
        self._write({"event": "end"})

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
