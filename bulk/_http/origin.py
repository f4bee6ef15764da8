"""The key goes to the base URL and nowhere else: the guard every request of the session
passes, whoever builds it (a listing's next page, say) and whatever its
``allow_redirects``. A request for another scheme, host or port than the base URL's is
never sent; a redirect is never followed (aiohttp would follow it with our ``x-api-key``,
which it keeps across hosts, even from https to http): it stops the run instead, and
names the status and the ``Location`` so that the user can fix ``--base-url``.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from yarl import URL

from .._shared.errors import Refused

__all__ = ["Redact", "cut", "only_to"]

Redact = Callable[[str], str]  # removes the key from text a server sent


def cut(text: str, limit: int) -> str:
    """Server text on one line, at most ``limit`` characters: redact it first."""
    return " ".join(text.split())[:limit]


def only_to(base: URL, redact: Redact) -> aiohttp.ClientMiddlewareType:
    """The session's middleware: every request goes to ``base``'s origin or nowhere."""
    where = (base.scheme, base.host, base.port)

    async def guard(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        url = request.url
        if (url.scheme, url.host, url.port) != where:
            raise Refused(
                f"refused to send to {str(url.origin())!r}: not the base URL "
                f"{str(base.origin())!r} (the API key goes nowhere else)"
            )
        response = await handler(request)
        if 300 <= response.status < 400:
            response.release()
            location = cut(redact(response.headers.get("Location") or "(no Location)"), 200)
            raise Refused(
                f"HTTP {response.status} redirect to {location!r}: bulk follows no redirect "
                "(the API key would go along); check --base-url",
                response.status,
            )
        return response

    return guard
