"""Settling whether an app exists, from cached ``GET /app`` listings.

A listing taken before a failure cannot prove the app absent, so a caller gives the
moment of its failure and gets an answer from a listing that started after it. Listings
are per team, shared by every row that waits, and refreshed at most once per
``min_interval``: a burst of ambiguous failures costs one listing, not one per row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from logging import DEBUG
from typing import Any

import anyio
from yarl import URL

from .._output.results import Stats
from .._shared.config import Settings
from .._shared.errors import Unsettled
from .._shared.logs import note
from .client import Action, Client, Kind, Page
from .pacing import Pacer
from .paging import no_gc
from .retrying import listing_policy

__all__ = ["Directory", "conflict_message", "listing_client"]


def conflict_message(team: str | None, name: str, ids: list[str]) -> str:
    owner = f" in team {team!r}" if team else ""
    return (
        f"{len(ids)} apps are named {name!r}{owner} ({', '.join(ids)}); bulk adopts none of "
        "them: delete the ones you do not want, or rename the row"
    )


@dataclass
class _Listing:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    started: float = -math.inf
    ids: dict[str, list[str]] | None = None  # name -> ids of the apps of that name
    apps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> apps
    by_id: dict[str, dict[str, Any]] | None = None  # id -> app, made when first asked


class Directory:
    def __init__(
        self,
        client: Client,
        pacer: Pacer,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        stats: Stats | None = None,
        max_retries: int = 5,
    ) -> None:
        self._client, self._pacer = client, pacer
        self._stats = stats if stats is not None else Stats()
        self._min_interval, self._clock, self._sleep = min_interval, clock, sleep
        self._policy = listing_policy(attempts=max_retries + 1, sleep=sleep)
        self._listings: dict[str | None, _Listing] = {}

    def listed(self, team: str | None, name: str) -> list[str] | None:
        """The ids from the team's last listing, without waiting; None: not listed yet."""
        listing = self._listings.get(team)
        if listing is None or listing.ids is None:
            return None
        return listing.ids.get(name, [])

    async def list_each(self, teams: Iterable[str]) -> None:
        """Lists each team's apps once ("" for the key's own); raises ``Unsettled``."""
        for team in teams:
            await self.ids(team or None, "", after=-math.inf)

    def listed_apps(self, team: str | None, name: str) -> list[dict[str, Any]]:
        """The apps called ``name`` as the team's last listing showed them."""
        listing = self._listings.get(team)
        return [] if listing is None else listing.apps.get(name, [])

    def listed_app(self, team: str | None, app_id: str) -> dict[str, Any] | None:
        """The app of that id as the team's last listing showed it; None: not shown."""
        listing = self._listings.get(team)
        if listing is None:
            return None
        if listing.by_id is None:  # only a rollback asks by id: indexed once, then looked up
            listing.by_id = {str(a["id"]): a for same in listing.apps.values() for a in same}
        return listing.by_id.get(app_id)

    def team_apps(self, team: str | None) -> list[dict[str, Any]]:
        """Every app (with a name and an id) of the team's last listing."""
        listing = self._listings.get(team)
        return [] if listing is None else [a for same in listing.apps.values() for a in same]

    async def ids(self, team: str | None, name: str, *, after: float) -> list[str]:
        """The ids of the apps called ``name``, from a listing started after ``after``."""
        listing = self._listings.setdefault(team, _Listing())
        async with listing.lock:
            if listing.ids is None or listing.started < after:
                await self._refresh(team, listing, after)
        assert listing.ids is not None
        return listing.ids.get(name, [])

    async def _refresh(self, team: str | None, listing: _Listing, after: float) -> None:
        # Sparingly: more failures gather behind this one listing meanwhile.
        wait = max(listing.started + self._min_interval, after) - self._clock()
        if wait > 0:
            await self._sleep(wait)
        started = self._clock()
        apps = await self.fetch_all(team)
        ids: dict[str, list[str]] = {}
        by_name: dict[str, list[dict[str, Any]]] = {}
        with no_gc():
            for app in apps:  # tens of thousands on a nightly re-run: one lookup each
                name, app_id = app.get("name"), app.get("id")
                if name is None or app_id is None:
                    continue
                name = name if type(name) is str else str(name)
                same = ids.get(name)
                if same is None:
                    ids[name], by_name[name] = [str(app_id)], [app]
                else:
                    same.append(str(app_id))
                    by_name[name].append(app)
        listing.ids, listing.apps, listing.started = ids, by_name, started
        listing.by_id = None

    async def fetch_all(self, team: str | None) -> list[dict[str, Any]]:
        """Every app of a team (None: the key's own) from one complete listing, each page
        paced, retried and counted like any other request. Raises ``Unsettled`` when a
        page cannot be had or its paging cannot be followed: never a partial listing."""
        apps: list[dict[str, Any]] = []
        url: URL | None = None
        seen: set[URL] = set()
        while True:
            page: Page = await self._policy.copy()(self._fetch, team, url, seen)
            reply = page.reply
            if reply.action is not Action.DONE:
                raise Unsettled(
                    reply.error or "GET /app failed",
                    reply.kind,
                    url=str(url) if url is not None else self._client.app_url,
                    status=reply.status,
                )
            apps.extend(page.apps)
            if page.next is None:
                return apps
            url = page.next

    async def _fetch(self, team: str | None, url: URL | None, seen: set[URL]) -> Page:
        sent_at = await self._pacer.acquire()
        self._stats.listings += 1
        page = await self._client.list_page(team=team, url=url, seen=seen)
        reply = page.reply
        if reply.kind is Kind.RATE_LIMITED:  # the limit belongs to the key: every worker waits
            self._stats.throttled += 1
            self._pacer.on_throttle(sent_at=sent_at, retry_after=reply.retry_after)
        note(
            DEBUG,
            "listing",
            team=team,
            status=reply.status,
            kind=reply.kind.value,
            apps=len(page.apps),
        )
        return page


def listing_client(settings: Settings, options: Any) -> Client:
    """A client for whole-team listings only (plan, status, export, wait, prune): two
    connections, the options' timeouts."""
    return Client(
        settings.base_url,
        settings.key,
        timeout=options.timeout,
        connect_timeout=options.connect_timeout,
        pool=2,
    )
