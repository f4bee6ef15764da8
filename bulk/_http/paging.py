"""How one page of ``GET /app`` leads to the next: the four usual ways, and any mix.

RunGen documents no paging, but a service holding a team's thousands of apps will page
them, and a listing that stops at its first page makes every later app look missing
(and created a second time). So each answer is read for every usual way forward:

- an RFC 8288 ``Link: <...>; rel="next"`` header;
- a ``next`` URL in the body (absolute, or relative to the page's);
- a ``next_cursor`` token, passed back as ``?cursor=``;
- ``page`` and ``total_pages``, the next asked for as ``?page=K+1``.

An answer whose way forward cannot be followed is refused, never taken as the whole:
``has_more: true`` with no way on, paging fields bulk does not know, a next page that
points to another scheme, host or port than the base URL (the key goes to no other
host), or one already fetched (a loop).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from yarl import URL

from .._shared.errors import PagingError

__all__ = ["apps_of", "next_page", "no_gc"]

# Fields that say "there is more" in ways bulk does not follow: refused, not ignored.
_UNKNOWN = ("next_page_token", "nextPageToken", "next_token", "continuation_token", "nextLink")


@contextmanager
def no_gc() -> Iterator[None]:
    """A team's listing is a million objects made at once, none in a cycle: the cyclic
    collector would scan them again and again as they are made (a third of the time a
    nightly re-run spends on its listing)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def apps_of(data: Any) -> list[dict[str, Any]] | None:
    """The apps of one answer (a bare list, or under ``data``); None: no list of apps."""
    apps = data.get("data") if isinstance(data, dict) else data
    if not isinstance(apps, list):
        return None
    return [app for app in apps if isinstance(app, dict)]


def _same_origin(base: URL, url: URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def _checked(base: URL, page: URL, target: URL, how: str) -> URL:
    url = page.join(target) if not target.is_absolute() else target
    if not _same_origin(base, url):
        raise PagingError(
            f"GET /app: the next page ({how}) is at {url.scheme}://{url.host}:{url.port}, not "
            f"at the base URL's {base.scheme}://{base.host}:{base.port}; bulk sends the key to "
            "no other host, so it cannot list every app"
        )
    return url


def _from_body(base: URL, page: URL, data: dict[str, Any]) -> URL | None:
    following = data.get("next")
    if isinstance(following, str) and following:
        return _checked(base, page, URL(following), f"next {following!r}")
    cursor = data.get("next_cursor")
    if isinstance(cursor, str) and cursor:
        return page.with_query({**page.query, "cursor": cursor})
    number, total = data.get("page"), data.get("total_pages")
    if isinstance(number, int) and isinstance(total, int):
        return page.with_query({**page.query, "page": number + 1}) if number < total else None
    if "page" in data and data.get("has_more") is not False:
        raise PagingError(
            f"GET /app answered page {number!r} with total_pages {total!r}: bulk cannot "
            "tell whether more pages follow"
        )
    return None


def next_page(base: URL, page: URL, data: Any, link: URL | None) -> URL | None:
    """The URL of the page after ``page`` (None: it was the last), from its body and its
    ``Link: rel="next"``; raises ``PagingError`` when the way on cannot be followed."""
    if link is not None:
        return _checked(base, page, link, "Link rel=next")
    if not isinstance(data, dict):
        return None
    following = _from_body(base, page, data)
    if following is not None:
        return following
    for name in _UNKNOWN:
        if data.get(name):
            raise PagingError(
                f"GET /app answered {name}={str(data[name])[:60]!r}, a paging bulk does not "
                "follow; it cannot list every app"
            )
    if data.get("has_more") is True:
        raise PagingError(
            "GET /app answered has_more: true with no way to the next page (no Link "
            "rel=next, next, next_cursor, or page and total_pages)"
        )
    return None
