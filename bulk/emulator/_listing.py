"""``GET /app`` as a large service answers it: in pages, lagging behind the writes, and
now and then with a 503.

Pages are cut from each owner's log of creations, in creation order, which only grows:
a page is a stretch of that log (deleted and lagging apps left out), so a write between
two page fetches never makes an older app skip a page, in any of the four styles:

- ``cursor``: ``{"data", "next_cursor", "has_more"}``, the token passed back as ``?cursor=``;
- ``next``: ``{"data", "next"}``, an absolute URL;
- ``link``: ``{"data"}`` and an RFC 8288 ``Link: <...>; rel="next"`` header;
- ``page``: ``?page=K`` (from 1), ``{"data", "page", "total_pages"}``.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import orjson
from aiohttp import web

from ._server import Server, _json, _reading

__all__ = ["list_apps", "visible"]


def visible(emu: Server, owner: str, app_id: str, now: float) -> bool:
    """Held, and old enough to show in listings."""
    born = emu.born.get(app_id)
    return (
        app_id in emu.apps.get(owner, {}) and born is not None and born + emu.faults.list_lag <= now
    )


def _token(position: int) -> str:
    return base64.urlsafe_b64encode(f"after:{position}".encode()).decode().rstrip("=")


def _position(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    text = base64.urlsafe_b64decode(padded.encode()).decode()
    if not text.startswith("after:"):
        raise ValueError(token)
    return int(text.removeprefix("after:"))


def _start(request: web.Request, paging: str, size: int) -> int:
    """Where in the owner's log the asked page starts."""
    query = request.query
    if paging == "cursor" and "cursor" in query:
        return _position(query["cursor"])
    if paging == "page" and "page" in query:
        page = int(query["page"])
        if page < 1:
            raise ValueError(page)
        return (page - 1) * size
    return int(query.get("after", 0))


@_reading
async def list_apps(request: web.Request, emu: Server) -> web.Response:
    faults = emu.faults
    if emu.draw(faults.list_error_rate):
        return _json(503, {"error": "Service unavailable."}, {"Retry-After": "1"})
    owner, now = emu.owner(request), time.monotonic()
    if not faults.page_size and not faults.list_lag:  # a kind server: all, at once
        return _all([emu.lifecycle.show(app) for app in emu.apps.get(owner, {}).values()])
    log = emu.order.get(owner, [])
    size = faults.page_size or max(len(log), 1)
    try:
        start = _start(request, faults.paging, size)
    except ValueError:
        return _json(400, {"error": "Invalid page."})
    end = start + size if faults.paging == "page" else start
    apps: list[dict[str, Any]] = []
    if faults.paging != "page":  # as many log entries as it takes to fill a page
        while end < len(log) and len(apps) < size:
            end += 1
            if visible(emu, owner, log[end - 1], now):
                apps.append(emu.apps[owner][log[end - 1]])
    else:
        ids = log[start:end]
        apps = [emu.apps[owner][i] for i in ids if visible(emu, owner, i, now)]
    emu.record.pages += 1
    apps = [emu.lifecycle.show(app) for app in apps]  # each with its status as of now
    if not faults.page_size:
        return _all(apps)
    return _page(emu, faults.paging, apps, start, end, len(log), size)


def _all(apps: list[dict[str, Any]]) -> web.Response:
    # A team's tens of thousands of apps in one answer: encoded as fast as a real
    # service would, so that a benchmark times bulk, not the emulator's JSON.
    body = orjson.dumps({"data": apps})
    return web.Response(status=200, body=body, content_type="application/json")


def _page(
    emu: Server,
    paging: str,
    apps: list[dict[str, Any]],
    start: int,
    end: int,
    logged: int,
    size: int,
) -> web.Response:
    more = end < logged
    following = f"{emu.url}/app?after={end}"
    if paging == "cursor":
        return _json(
            200, {"data": apps, "next_cursor": _token(end) if more else None, "has_more": more}
        )
    if paging == "next":
        return _json(200, {"data": apps, "next": following if more else None})
    if paging == "link":
        return _json(200, {"data": apps}, {"Link": f'<{following}>; rel="next"'} if more else None)
    total = max(1, math.ceil(logged / size))
    return _json(200, {"data": apps, "page": start // size + 1, "total_pages": total})
