"""The live apps of whole teams, for ``status``, ``export``, ``wait`` and pruning.

They list through the one listing path every run uses (``Directory``: the pacer, the
listing retry policy, and whatever it knows of paged listings), one listing per team.
This module is the only place those commands reach it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from .._output.results import Stats
from .._shared.config import Settings, resolve_settings
from .._shared.errors import ServiceError, Unsettled
from .directory import Directory, listing_client
from .pacing import Pacer

__all__ = ["Live", "live_apps", "settings_of"]


class Live:
    """Lists a team's apps afresh each time it is asked."""

    def __init__(self, directory: Directory, clock: Callable[[], float], stats: Stats) -> None:
        self._directory, self._clock, self.stats = directory, clock, stats

    async def apps(self, team: str | None) -> list[dict[str, Any]]:
        """The team's apps ("" or None: the key's own) from a listing started now;
        raises ``Unsettled`` when none could be had."""
        await self._directory.ids(team or None, "", after=self._clock())
        return self._directory.team_apps(team or None)

    async def each(self, teams: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
        """One listing per team; a failure is a ``ServiceError`` (nothing to show)."""
        listed: dict[str, list[dict[str, Any]]] = {}
        for team in teams:
            try:
                listed[team] = await self.apps(team)
            except Unsettled as exc:
                whose = f"the apps of team {team!r}" if team else "your own apps"
                raise ServiceError(f"{whose} could not be listed: {exc}", **exc.context()) from None
        return listed


def settings_of(options: Any) -> Settings:
    return resolve_settings(
        base_url=options.base_url,
        api_key=options.api_key,
        api_key_file=options.api_key_file,
        insecure=options.insecure,
    )


@contextlib.asynccontextmanager
async def live_apps(
    settings: Settings,
    options: Any,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> AsyncIterator[Live]:
    """A ``Live`` over one pooled client, paced at ``options.rate``."""
    stats = Stats()
    async with listing_client(settings, options) as client:
        pacer = Pacer(rate=options.rate, clock=clock, sleep=sleep)
        directory = Directory(
            client, pacer, clock=clock, sleep=sleep, stats=stats, max_retries=options.max_retries
        )
        yield Live(directory, clock, stats)
