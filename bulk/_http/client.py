"""Step 4: the HTTP client, the one seam between bulk and the transport (aiohttp).

Every answer, and every transport error, becomes a ``Reply`` that says what it means for
the row, following RFC 9110 on non-idempotent methods and the Stripe and AWS SDKs:

==========  ==========================================================  ===============
action      when                                                        error kind
==========  ==========================================================  ===============
done        2xx with an app id                                          (created)
retry       429; 503; connection refused; connect timeout               rate_limited,
                                                                        server, network
reconcile   500, 502, 504; a read timeout or a dropped connection       ambiguous
            after the body was sent; 2xx with no id: the app may exist
final       400, 401, 403, 404, 409, 422 and other 4xx; TLS failures    client, auth,
            a 3xx (never followed: it stops the run); a request off     network
            the base URL's scheme, host and port (never sent)
==========  ==========================================================  ===============

The session's key goes to the base URL and nowhere else: ``origin.only_to`` refuses,
for every request whoever builds it, another origin and any redirect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, NamedTuple

import aiohttp
from yarl import URL

from .._shared import jsoncodec
from .._shared.config import ApiKey
from .._shared.errors import PagingError, Refused
from .._shared.ids import app_id_problem
from .origin import Redact, cut, only_to
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

MAX_ERROR_TEXT = 300
MAX_RETRY_AFTER = 300.0
_READ_TEXT = 1 << 16  # bytes of an error body that are read for its message


class Action(StrEnum):
    """What an answer means for the row (the table above)."""

    DONE = "done"
    RETRY = "retry"
    RECONCILE = "reconcile"
    FINAL = "final"


class Kind(StrEnum):
    """What kind of answer it was: the ``error_kind`` of a row that fails on it."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    GONE = "gone"  # a DELETE answered 404
    LISTED = "listed"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    SERVER = "server"
    NETWORK = "network"
    AMBIGUOUS = "ambiguous"
    CLIENT = "client"


def _idempotent(reply: Reply, done: Kind, app_id: str) -> Reply:
    """The answer to a request that may be sent again whatever became of the last one."""
    if reply.status is not None and 200 <= reply.status < 300:
        return Reply(Action.DONE, done, reply.status, app_id)
    if reply.action is Action.RECONCILE:
        return reply._replace(action=Action.RETRY)
    return reply


class Reply(NamedTuple):
    """One answer, or one transport failure, as it bears on the row. Immutable: what the
    row made of it (when it was sent, how many 429s so far) is the row's own state."""

    action: Action
    kind: Kind
    status: int | None = None
    app_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    settle_after: float = 0.0  # a listing may settle it only this many seconds later


class Page(NamedTuple):
    """One page of a listing: the answer, its apps, and the next page (None: the last)."""

    reply: Reply
    apps: Sequence[dict[str, Any]] = ()
    next: URL | None = None


_RETRY_STATUSES = {429: Kind.RATE_LIMITED, 503: Kind.SERVER}
_AUTH_STATUSES = (401, 403)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now()
        except (TypeError, ValueError, IndexError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def find_app_id(data: Any) -> str | None:
    """The id from the documented flat body or from the live service's envelope."""
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, dict) and inner.get("id") not in (None, ""):
            return str(inner["id"])
        if data.get("id") not in (None, ""):
            return str(data["id"])
    return None


def _decoded(raw: bytes) -> str:
    """The start of a body as text: enough for any message, bounded for a whole page."""
    return raw[:_READ_TEXT].decode("utf-8", "replace")


def _message(status: int, raw: bytes, redact: Redact) -> str:
    """The server's words, the key removed before they are cut or quoted: a cut could
    leave part of the key, and quoting escapes it out of recognition."""
    if not raw:
        return f"HTTP {status}"
    try:
        data = jsoncodec.loads(raw)
    except ValueError:
        return f"HTTP {status} (not JSON): {cut(redact(_decoded(raw)), 120)!r}"
    said = data.get("error") or data.get("message") if isinstance(data, dict) else None
    if isinstance(said, str):
        return f"HTTP {status}: {cut(redact(said), MAX_ERROR_TEXT)}"
    return f"HTTP {status}: {cut(redact(_decoded(raw)), 200)}"


def is_redirect(reply: Reply) -> bool:
    return reply.status is not None and 300 <= reply.status < 400


def _answer(status: int, headers: Any, raw: bytes, redact: Redact) -> Reply:
    if 200 <= status < 300:
        try:
            app_id = find_app_id(jsoncodec.loads(raw))
        except ValueError:
            app_id = None
        if app_id is not None:
            return Reply(Action.DONE, Kind.CREATED, status, app_id)
        return Reply(
            Action.RECONCILE, Kind.AMBIGUOUS, status, error=f"HTTP {status} with no app id"
        )
    error = _message(status, raw, redact)
    if status in _RETRY_STATUSES:
        after = parse_retry_after(headers.get("Retry-After"))
        return Reply(Action.RETRY, _RETRY_STATUSES[status], status, error=error, retry_after=after)
    if status in _AUTH_STATUSES:
        return Reply(Action.FINAL, Kind.AUTH, status, error=error)
    if status >= 500:
        return Reply(Action.RECONCILE, Kind.AMBIGUOUS, status, error=error)
    return Reply(Action.FINAL, Kind.CLIENT, status, error=error)


def _not_found(reply: Reply, method: str, url: URL) -> Reply:
    """A 404 names the URL tried: a base URL with a path the API does not have (``/v1``)
    answers every request so, and the user must see where the requests went."""
    if reply.status != 404:
        return reply
    where = f"{reply.error} from {method} {url}"
    return reply._replace(error=f"{where}; check --base-url (base_url=)")


def translate(exc: BaseException, *, timeout: float, connect_timeout: float | None = None) -> Reply:
    """The one place where aiohttp's and the OS's errors become bulk's."""
    name = type(exc).__name__
    if isinstance(exc, Refused):
        return Reply(Action.FINAL, Kind.CLIENT, exc.status, error=exc.message)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return Reply(Action.FINAL, Kind.NETWORK, error=f"TLS failure: {name}; check the base URL")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # Nothing was sent: a plain retry, no look-up.
        limit = timeout if connect_timeout is None else connect_timeout
        return Reply(Action.RETRY, Kind.NETWORK, error=f"could not connect within {limit:g} s")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Reply(
            Action.RETRY, Kind.NETWORK, error=f"cannot connect: {exc.os_error.strerror or name}"
        )
    if isinstance(exc, TimeoutError):
        # A slow server may still be creating the app: look for it one timeout later.
        error = f"no answer within {timeout:g} s"
        return Reply(Action.RECONCILE, Kind.AMBIGUOUS, error=error, settle_after=timeout)
    detail = str(exc).split("\n")[0][:120] or name
    return Reply(Action.RECONCILE, Kind.AMBIGUOUS, error=f"connection lost after sending: {detail}")


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
        return _idempotent(reply, Kind.UPDATED, app_id)

    async def delete(self, app_id: str, *, team: str | None) -> Reply:
        """DELETE /app/{id} once; a 404 means the app is already gone."""
        problem = app_id_problem(app_id)
        if problem is not None:  # never sent: an id must not reach another path
            return Reply(Action.FINAL, Kind.CLIENT, error=problem)
        reply = await self._send("DELETE", self._app_url / app_id, None, self._headers(team))
        if reply.status == 404:
            return Reply(Action.DONE, Kind.GONE, 404, app_id)
        return _idempotent(reply, Kind.DELETED, app_id)

    async def _send(
        self, method: str, url: URL, payload: bytes | None, headers: dict[str, str]
    ) -> Reply:
        assert self._session is not None, "use the client inside 'async with'"
        try:
            async with self._session.request(method, url, data=payload, headers=headers) as resp:
                raw = await resp.read()
                reply = _answer(resp.status, resp.headers, raw, self._key.redact)
                return self._clean(_not_found(reply, method, url))
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
            return _idempotent(self._clean(self._translate(exc)), Kind.LISTED, app_id), {}
        if status == 404:
            return Reply(Action.DONE, Kind.GONE, 404, app_id), {}
        reply = _answer(status, answer_headers, raw, self._key.redact)
        reply = _idempotent(self._clean(reply), Kind.LISTED, app_id)
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
            reply = _answer(status, answer_headers, raw, self._key.redact)
            return Page(self._clean(_not_found(reply, "GET", url)))
        try:
            with no_gc():
                data = jsoncodec.loads(raw)
        except ValueError:
            error = _message(status, raw, self._key.redact)
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
