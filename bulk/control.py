"""Stopping a run early: on a signal from the user, or when the run itself must halt."""

from __future__ import annotations

import anyio

__all__ = ["RunControl"]


class RunControl:
    """Shared by the runner and whoever may stop it (the CLI's signal handler).

    ``interrupt()`` (first Ctrl-C): take no new rows, let requests in flight finish for
    at most ``grace`` seconds. ``abandon()`` (second Ctrl-C): give them up at once; the
    journal lets ``--resume`` settle them. ``halt()``: the run itself stops taking rows
    (refused key, service down); requests in flight finish normally.
    Call these from the thread running the event loop.
    """

    def __init__(self, *, grace: float = 10.0) -> None:
        self.grace = grace
        self.stopping = False
        self.interrupted = False
        self.reason: str | None = None
        self.reason_kind: str | None = None
        self._interrupt_event: anyio.Event | None = None
        self._abandon_event: anyio.Event | None = None
        self._abandoned = False

    def halt(self, reason: str, *, kind: str | None = None) -> None:
        if not self.stopping:
            self.stopping, self.reason, self.reason_kind = True, reason, kind

    def interrupt(self) -> None:
        self.halt("the run was interrupted; run again with --resume to send it")
        self.interrupted = True
        if self._interrupt_event is not None:
            self._interrupt_event.set()

    def abandon(self) -> None:
        self.interrupt()
        self._abandoned = True
        if self._abandon_event is not None:
            self._abandon_event.set()

    async def wait_interrupted(self) -> None:
        if not self.interrupted:
            self._interrupt_event = anyio.Event()
            await self._interrupt_event.wait()

    async def wait_abandoned(self) -> None:
        if not self._abandoned:
            self._abandon_event = anyio.Event()
            await self._abandon_event.wait()
