"""An app's ``status`` as the live service reports it: ``STOPPED`` at 0 active workers,
``INITIALIZING`` while its workers start, ``RUNNING`` ``start_seconds`` later. Apps named
in ``Faults.never_start`` stay ``INITIALIZING``; those in ``Faults.fail`` end ``FAILED``:
the cases a waiter must time out on, or give up on at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._faults import Faults

__all__ = ["Lifecycle"]


class Lifecycle:
    """When each app was last given workers; its status is worked out when it is read,
    so the emulator needs no timer of its own."""

    def __init__(self, faults: Faults, clock: Callable[[], float]) -> None:
        self.faults, self.clock = faults, clock
        self._since: dict[str, float] = {}  # app id -> when its workers were asked for

    def scaled(self, app: dict[str, Any], before: int) -> None:
        """Called when an app is created or its workers change (``before``: the old count)."""
        workers = app["configuration"]["active_workers"] or 0
        if workers and not before:
            self._since[app["id"]] = self.clock()
        elif not workers:
            self._since.pop(app["id"], None)
        self.show(app)

    def forget(self, app_id: str) -> None:
        self._since.pop(app_id, None)

    def show(self, app: dict[str, Any]) -> dict[str, Any]:
        """The app with its status as of now."""
        app["status"] = self._status(app)
        return app

    def _status(self, app: dict[str, Any]) -> str:
        since = self._since.get(app["id"])
        if since is None:
            return "STOPPED"
        if app["name"] in self.faults.fail:
            return "FAILED"
        started = self.clock() - since >= self.faults.start_seconds
        if app["name"] in self.faults.never_start or not started:
            return "INITIALIZING"
        return "RUNNING"
