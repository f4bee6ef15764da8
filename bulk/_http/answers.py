"""Step 4: what an answer means for the row.

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
from .._shared.errors import Refused
from .origin import Redact, cut

__all__ = [
    "MAX_ERROR_TEXT",
    "Action",
    "Kind",
    "Page",
    "Reply",
    "answer",
    "find_app_id",
    "idempotent",
    "is_redirect",
    "message",
    "not_found",
    "parse_retry_after",
    "translate",
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


def idempotent(reply: Reply, done: Kind, app_id: str) -> Reply:
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


def message(status: int, raw: bytes, redact: Redact) -> str:
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


def answer(status: int, headers: Any, raw: bytes, redact: Redact) -> Reply:
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
    error = message(status, raw, redact)
    if status in _RETRY_STATUSES:
        after = parse_retry_after(headers.get("Retry-After"))
        return Reply(Action.RETRY, _RETRY_STATUSES[status], status, error=error, retry_after=after)
    if status in _AUTH_STATUSES:
        return Reply(Action.FINAL, Kind.AUTH, status, error=error)
    if status >= 500:
        return Reply(Action.RECONCILE, Kind.AMBIGUOUS, status, error=error)
    return Reply(Action.FINAL, Kind.CLIENT, status, error=error)


def not_found(reply: Reply, method: str, url: URL) -> Reply:
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
