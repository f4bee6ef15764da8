"""What a run did, as one frozen, typed value: ``Report``. It rides on the results table
(``frame.attrs["report"]``); the command line's summary and ``--summary-json`` render it,
and so does the benchmark. Nothing parses text."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .._shared.errors import ERROR_KINDS
from .results import STATUSES, SUCCESS, write_atomically

__all__ = ["Report", "counted", "write_json", "write_summary"]


def counted(n: int, noun: str) -> str:
    """``1 request``, ``2 requests``, ``1,000 apps``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True, slots=True)
class Report:
    """Counts are by status (every one of ``STATUSES``) and by error kind (every one of
    ``ERROR_KINDS``); ``requests`` counts every HTTP request, ``posts`` and ``listings``
    (GET /app) apart; ``throttled`` the 429 answers met; ``stopped`` why the run stopped
    early, if it did; ``paths`` the files written, by role (``results``, ``journal``)."""

    rows: int
    counts: dict[str, int]
    error_kinds: dict[str, int]
    started_at: datetime
    finished_at: datetime
    elapsed: float  # seconds, from a monotonic clock
    posts: int = 0
    puts: int = 0
    deletes: int = 0
    listings: int = 0
    retries: int = 0
    throttled: int = 0
    adopted: int = 0  # found by a listing after an ambiguous failure
    stopped: str | None = None
    interrupted: bool = False
    dry_run: bool = False
    kept: bool = False  # the results file holds an earlier run's ids: this one sent nothing
    warnings: tuple[str, ...] = ()
    paths: dict[str, str] = field(default_factory=dict)
    manifest: str = ""  # its path, or "DataFrame"
    host: str | None = None  # of the base URL; None for a dry run
    teams: tuple[str, ...] = ()  # the teams the rows belong to ("" for the key's own)
    workers: int = 0  # active workers asked for by the rows done (or, dry, the valid rows)
    labels: tuple[str, ...] = STATUSES  # what ``counts`` counts: statuses, or a plan's actions
    pruned: dict[str, int] = field(default_factory=dict)  # apply --prune: deletes by status
    waited: dict[str, int] = field(default_factory=dict)  # --wait: apps by state reached

    @property
    def requests(self) -> int:
        return self.posts + self.puts + self.deletes + self.listings

    @property
    def succeeded(self) -> bool:
        """Every row created, already there, or (in a dry run) valid."""
        return sum(self.counts.get(s, 0) for s in SUCCESS) == self.rows

    def summary(self) -> str:
        """The lines the command line ends with."""
        parts = [f"{self.counts[s]} {s}" for s in STATUSES if self.counts.get(s)]
        lines = [f"{self.rows} rows: {', '.join(parts) or 'nothing to do'}"]
        if self.dry_run:
            lines.append("a dry run: every row was checked; nothing was sent")
        else:
            lines.append(self._traffic())
        if self.workers or not self.deletes:
            verb = "would ask" if self.dry_run else "asked"
            workers = counted(self.workers, "active worker")
            lines.append(f"{verb} for {workers} (billing starts at 1 active worker per app)")
        if "results" in self.paths and self.kept:
            lines.append(
                f"results: {self.paths['results']} kept as it was (it holds an earlier "
                "run's ids, and this run sent no request)"
            )
        elif "results" in self.paths:
            lines.append(f"results: {self.paths['results']}")
        return "\n".join(lines)

    def _traffic(self) -> str:
        rate = self.requests / self.elapsed if self.elapsed > 0 else 0.0
        methods = {"POST": self.posts, "PUT": self.puts, "DELETE": self.deletes}
        kinds = [f"{n} {m}" for m, n in methods.items() if n] or ["0 POST"]
        line = (
            f"{counted(self.requests, 'request')} ({', '.join(kinds)}, {self.listings} GET) in "
            f"{self.elapsed:.2f} s ({rate:.1f}/s), {self.retries} retries"
        )
        if self.throttled:
            line += f", {self.throttled} answered 429"
        if self.adopted:
            line += f", {self.adopted} found after an ambiguous failure and adopted"
        return line

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times in ISO 8601 UTC, every count present."""
        return {
            "manifest": self.manifest,
            "host": self.host,
            "teams": list(self.teams),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "elapsed_seconds": round(self.elapsed, 3),
            "rows": self.rows,
            "counts": {s: self.counts.get(s, 0) for s in self.labels},
            "error_kinds": {k: self.error_kinds.get(k, 0) for k in ERROR_KINDS},
            "requests": self.requests,
            "posts": self.posts,
            "puts": self.puts,
            "deletes": self.deletes,
            "active_workers": self.workers,
            "listings": self.listings,
            "retries": self.retries,
            "throttled": self.throttled,
            "adopted": self.adopted,
            "rows_per_second": round(self.rows / self.elapsed, 1) if self.elapsed > 0 else None,
            "stop_reason": self.stopped,
            "interrupted": self.interrupted,
            "dry_run": self.dry_run,
            "results_kept": self.kept,
            "warnings": list(self.warnings),
            "paths": dict(self.paths),
            "pruned": dict(self.pruned),
            "waited": dict(self.waited),
        }


def write_summary(path: Path, report: Report, *, command: str, exit_code: int) -> None:
    """``--summary-json``: the report, the command and its exit status, whole or not at all."""
    data = {"command": command, "exit_code": exit_code, **report.to_dict()}
    data["duration_seconds"] = data.pop("elapsed_seconds")
    data["manifest_sha256"] = _sha256(Path(report.manifest)) if report.manifest else None
    write_json(path, data)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """A summary file, readable JSON, whole or not at all."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, lambda out: out.write(text.encode()))


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source:
            while block := source.read(1 << 20):
                digest.update(block)
    except OSError:  # a DataFrame, or a file gone since
        return None
    return digest.hexdigest()
