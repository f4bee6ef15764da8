"""Step 4: the HTTP client, the one seam between bulk and the transport (aiohttp).

Every answer, and every transport error, becomes a ``Reply`` (``answers``) that says
what it means for the row.

The session's key goes to the base URL and nowhere else: ``origin.only_to`` refuses,
for every request whoever builds it, another origin and any redirect.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from .._shared import jsoncodec
from .._shared.config import ApiKey
from .._shared.errors import PagingError, Refused
from .._shared.ids import app_id_problem
from .answers import (
    MAX_ERROR_TEXT,
    Action,
    Kind,
    Page,
    Reply,
    answer,
    idempotent,
    is_redirect,
    message,
    not_found,
    parse_retry_after,
    translate,
)
from .origin import only_to
from .paging import apps_of, next_page, no_gc

__all__ = [
    "MAX_ERROR_TEXT",
    "Action",
    "Client",
    "Kind",
    "Page",
    "Reply",
    "is_redirect",
    "parse_retry_after",
]


class Client:
    """One pooled aiohttp session for a run. Use ``async with Client(...)``."""

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey,
        *,
        timeout: float,
        pool: int,
        connect_timeout: float | None = None,
    ) -> None:
        self._key, self._timeout = api_key, timeout
        self._connect_timeout = timeout if connect_timeout is None else connect_timeout
        self._app_url = URL(f"{base_url}/app")  # parsed once, not per request
        self._session: aiohttp.ClientSession | None = None
        self._pool = pool
        self._team_headers: dict[str | None, dict[str, str]] = {}

    @property
    def app_url(self) -> str:
        return str(self._app_url)

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(
            headers={"x-api-key": self._key.reveal()},
            # Connecting and answering are bounded apart: a connect stall is then told from
            # a slow answer (a plain retry, not a request that may have been applied).
            timeout=aiohttp.ClientTimeout(
                total=self._connect_timeout + self._timeout,
                sock_connect=self._connect_timeout,
                sock_read=self._timeout,
            ),
            connector=aiohttp.TCPConnector(limit=self._pool, limit_per_host=self._pool),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API keyed by header: no cookie work
            middlewares=(only_to(self._app_url, self._key.redact),),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, team: str | None) -> dict[str, str]:
        headers = self._team_headers.get(team)
        if headers is None:
            headers = {"Content-Type": "application/json"}
            if team:
                headers["x-team-id"] = team
            self._team_headers[team] = headers
        return headers

    async def create(self, payload: bytes, *, team: str | None, key: str) -> Reply:
        """POST /app once. Never raises for HTTP or transport trouble."""
        headers = {**self._headers(team), "Idempotency-Key": key}
        return await self._send("POST", self._app_url, payload, headers)

    async def update(self, app_id: str, payload: bytes, *, team: str | None) -> Reply:
        """PUT /app/{id} once: a partial update. A PUT is idempotent, so an answer that
        leaves it in doubt asks for a plain retry, not a look-up."""
        problem = app_id_problem(app_id)
        if problem is not None:  # never sent: an id must not reach another path
            return Reply(Action.FINAL, Kind.CLIENT, error=problem)
        reply = await self._send("PUT", self._app_url / app_id, payload, self._headers(team))
        return idempotent(reply, Kind.UPDATED, app_id)

    async def delete(self, app_id: str, *, team: str | None) -> Reply:
        """DELETE /app/{id} once; a 404 means the app is already gone."""
        problem = app_id_problem(app_id)
        if problem is not None:  # never sent: an id must not reach another path
            return Reply(Action.FINAL, Kind.CLIENT, error=problem)
        reply = await self._send("DELETE", self._app_url / app_id, None, self._headers(team))
        if reply.status == 404:
            return Reply(Action.DONE, Kind.GONE, 404, app_id)
        return idempotent(reply, Kind.DELETED, app_id)

    async def _send(
        self, method: str, url: URL, payload: bytes | None, headers: dict[str, str]
    ) -> Reply:
        assert self._session is not None, "use the client inside 'async with'"
        try:
            async with self._session.request(method, url, data=payload, headers=headers) as resp:
                raw = await resp.read()
                reply = answer(resp.status, resp.headers, raw, self._key.redact)
                return self._clean(not_found(reply, method, url))
        except (aiohttp.ClientError, Refused, OSError, TimeoutError) as exc:
            return self._clean(self._translate(exc))

    def _translate(self, exc: BaseException) -> Reply:
        return translate(exc, timeout=self._timeout, connect_timeout=self._connect_timeout)

    def _clean(self, reply: Reply) -> Reply:
        """Server text may echo the key, and may be a whole page: redact it, bound it."""
        if reply.error:
            return reply._replace(error=self._key.redact(reply.error)[:MAX_ERROR_TEXT])
        return reply

    async def get_app(self, app_id: str, *, team: str | None) -> tuple[Reply, dict[str, Any]]:
        """GET /app/{id} once: (DONE listed, the app), (DONE gone) on a 404, or a failure
        to retry. A GET changes nothing, so no answer leaves anything in doubt."""
        assert self._session is not None, "use the client inside 'async with'"
        problem = app_id_problem(app_id)
        if problem is not None:  # never requested: an id must not reach another path
            return Reply(Action.FINAL, Kind.CLIENT, error=problem), {}
        headers = {"x-team-id": team} if team else None
        try:
            async with self._session.get(self._app_url / app_id, headers=headers) as resp:
                raw, status, answer_headers = await resp.read(), resp.status, resp.headers
        except (aiohttp.ClientError, Refused, OSError, TimeoutError) as exc:
            return idempotent(self._clean(self._translate(exc)), Kind.LISTED, app_id), {}
        if status == 404:
            return Reply(Action.DONE, Kind.GONE, 404, app_id), {}
        reply = answer(status, answer_headers, raw, self._key.redact)
        reply = idempotent(self._clean(reply), Kind.LISTED, app_id)
        if reply.action is not Action.DONE:
            return reply, {}
        data = jsoncodec.loads(raw)  # _answer found an id in it: it is JSON
        inner = data.get("data")
        return reply, inner if isinstance(inner, dict) and inner.get("id") is not None else data

    async def list_apps(self, *, team: str | None) -> tuple[Reply, list[dict[str, Any]]]:
        """GET /app: every page of the apps of a team (or the user's own), unpaced and
        not retried (``Directory.fetch_all`` paces and retries each page). The list is
        empty on failure: a partial listing is never returned."""
        apps: list[dict[str, Any]] = []
        url: URL | None = None
        seen: set[URL] = set()
        while True:
            page = await self.list_page(team=team, url=url, seen=seen)
            if page.reply.action is not Action.DONE:
                return page.reply, []
            apps.extend(page.apps)
            if page.next is None:
                return page.reply, apps
            url = page.next

    async def list_page(
        self, *, team: str | None, url: URL | None = None, seen: set[URL] | None = None
    ) -> Page:
        """One page of GET /app (the first when ``url`` is None), and the next page's URL.
        ``seen`` gathers the pages fetched: a next page seen before is refused (a loop)."""
        assert self._session is not None, "use the client inside 'async with'"
        url = url or self._app_url
        headers = {"x-team-id": team} if team else None
        try:
            async with self._session.get(url, headers=headers) as resp:
                raw, status, answer_headers = await resp.read(), resp.status, resp.headers
                following = resp.links.get("next")
                link = None if following is None else following.get("url")
        except (aiohttp.ClientError, Refused, OSError, TimeoutError) as exc:
            return Page(self._clean(self._translate(exc)))
        if status >= 300:
            reply = answer(status, answer_headers, raw, self._key.redact)
            return Page(self._clean(not_found(reply, "GET", url)))
        try:
            with no_gc():
                data = jsoncodec.loads(raw)
        except ValueError:
            error = message(status, raw, self._key.redact)
            return Page(self._clean(Reply(Action.RETRY, Kind.SERVER, status, error=error)))
        apps = apps_of(data)
        if apps is None:
            return Page(Reply(Action.RETRY, Kind.SERVER, status, error="GET /app: no list of apps"))
        return self._paged(url, data, link if isinstance(link, URL) else None, status, apps, seen)

    def _paged(
        self,
        url: URL,
        data: Any,
        link: URL | None,
        status: int,
        apps: list[dict[str, Any]],
        seen: set[URL] | None,
    ) -> Page:
        try:
            following = next_page(self._app_url, url, data, link)
        except PagingError as exc:
            return Page(Reply(Action.FINAL, Kind.SERVER, status, error=self._key.redact(str(exc))))
        if seen is not None:
            seen.add(url)
            if following is not None and following in seen:
                error = f"GET /app: the next page {following} was fetched before (a loop)"
                return Page(Reply(Action.FINAL, Kind.SERVER, status, error=error))
        return Page(Reply(Action.DONE, Kind.LISTED, status), apps, following)
