"""A listing that lags cannot cause a second app.

Many services fill their listings from an index that trails the writes by seconds: an app
created a moment ago is not listed yet, and a run right after another would create it
again. So before a row is sent because its name is missing from the listing, bulk asks
the server about the ids its own record knows for that name, with ``GET /app/{id}``:

- this run's journal (a run ``--resume`` finishes): the app that run created;
- the last finished journal of the same server and key, kept beside this one;
- the per-user record of the apps created lately on that server with that key, whatever
  the output and however the URL is spelt (``created``);
- in one process, for library runs without ``output=`` (a notebook cell run twice), the
  apps earlier runs created.

A recorded id counts only once the server confirms it, under the row's name and team:
ids still come only from the target. A 404 (or another name) means the row may be sent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .._http.client import Action, Client, Kind, Reply
from .._http.pacing import Pacer
from .._http.retrying import listing_policy
from .._output.results import Result, Stats, Status
from .._validating.payloads import Row
from .created import CreatedIds
from .journal import Earlier, Journal, Prior, read_journal

__all__ = ["Recall"]

# (base URL, key fingerprint, team, name) -> the id of the app a run of this process
# created for it: what a notebook cell run again within the lag needs.
_MEMORY: dict[tuple[str, str, str | None, str], str] = {}


class _Found(NamedTuple):
    reply: Reply
    app: dict[str, Any]


def _same_server(last: Earlier | None, base_url: str, key: str) -> Earlier | None:
    target = (last.target or {}) if last is not None else {}
    if last is None or target.get("base_url") != base_url or target.get("key") != key:
        return None
    return last


class Recall:
    """The ids bulk's own record knows for a row's name, confirmed by the server."""

    def __init__(
        self,
        client: Client,
        pacer: Pacer,
        stats: Stats,
        journal: Journal,
        *,
        server: tuple[str, str],  # the base URL and the key's fingerprint
        skip_existing: bool = True,
        max_retries: int = 5,
        record: CreatedIds | None = None,
    ) -> None:
        self._client, self._pacer, self._stats, self._journal = client, pacer, stats, journal
        self._server, self._skip, self._record = server, skip_existing, record
        self._last: Earlier | None = None
        self._unread = journal.last  # read when a row first needs it
        self._remember = journal.path is None  # a library run that writes no file
        self._policy = listing_policy(attempts=max_retries + 1)

    def candidates(self, row: Row) -> list[tuple[str, Status]]:
        """(app id, the status it would give the row), most telling first."""
        where = (row.team, row.name)
        found: list[tuple[str, Status]] = []
        prior: Prior | None = self._journal.earlier.rows.get(where)
        if prior is not None and prior.app_id:
            found.append((prior.app_id, "created"))  # this run's, before its resume
        if self._skip:  # else the user asked for a second app of that name
            last_run = self._last_run()
            last = last_run.rows.get(where) if last_run is not None else None
            if last is not None and last.known:
                found.append((last.known, "exists"))
            remembered = _MEMORY.get((*self._server, *where))
            if remembered:
                found.append((remembered, "exists"))
            if self._record is not None:
                found.extend((app_id, "exists") for app_id in self._record.ids(*where))
        unique: dict[str, Status] = {}
        for app_id, status in found:
            unique.setdefault(app_id, status)
        return list(unique.items())

    def _last_run(self) -> Earlier | None:
        if self._unread is not None:
            path, self._unread = self._unread, None
            self._last = _same_server(read_journal(path) if path.exists() else None, *self._server)
        return self._last

    async def confirm(self, row: Row) -> Result | None:
        """The row's result when the server confirms an app its record knows; None when
        every such app is gone (or there is none): the row may be sent."""
        for app_id, status in self.candidates(row):
            if app_id in row.existing:
                continue
            found: _Found = await self._policy.copy()(self._get, app_id, row.team)
            reply = found.reply
            if reply.kind is Kind.GONE or reply.status == 404:
                continue
            if reply.action is not Action.DONE:
                error = f"may exist as {app_id}, and could not be checked: {reply.error}"
                return Result(
                    row.number, row.name, "failed", None, reply.status, 0, error, "ambiguous"
                )
            if found.app.get("name") == row.name:
                return Result(row.number, row.name, status, app_id, reply.status)
        return None

    async def _get(self, app_id: str, team: str | None) -> _Found:
        sent_at = await self._pacer.acquire()
        self._stats.listings += 1
        reply, app = await self._client.get_app(app_id, team=team)
        if reply.kind is Kind.RATE_LIMITED:
            self._stats.throttled += 1
            self._pacer.on_throttle(sent_at=sent_at, retry_after=reply.retry_after)
        return _Found(reply, app)

    def learn(self, row: Row, result: Result) -> None:
        """Notes the app the row created in the per-user record, and, for this process,
        the app of a run without a results file."""
        if result.status != "created" or not result.app_id:
            return
        if self._remember:
            _MEMORY[(*self._server, row.team, row.name)] = result.app_id
        if self._record is not None:
            self._record.add(row.team, row.name, result.app_id)
