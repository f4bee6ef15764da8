"""Stopping a run early: on a signal from the user, or when the run itself must halt."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from .._shared.logs import log

__all__ = ["RunControl", "catch_signals", "until_stopped"]


class RunControl:
    """Shared by the runner and whoever may stop it (a signal handler, another thread).

    ``interrupt()`` (first Ctrl-C): take no new rows, let requests in flight finish for
    at most ``grace`` seconds. ``abandon()`` (second Ctrl-C): give them up at once; the
    journal lets ``--resume`` settle them. ``halt()``: the run itself stops taking rows
    (refused key, service down); requests in flight finish normally.
    ``interrupt`` and ``abandon`` may be called from any thread. ``signals`` are the
    signals the run turns into these calls while it runs in the main thread.
    """

    def __init__(self, *, grace: float = 10.0, signals: tuple[int, ...] = (signal.SIGINT,)) -> None:
        self.grace = grace
        self.signals = signals
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reset()

    def _reset(self) -> None:
        self.stopping = False
        self.interrupted = False
        self.reason: str | None = None
        self.reason_kind: str | None = None
        self._interrupt_event: anyio.Event | None = None
        self._abandon_event: anyio.Event | None = None
        self._abandoned = False
        self._ended = False

    def bind(self) -> None:
        """Called by the run, in its event loop: calls from other threads go there. A
        control whose last run ended starts afresh, so that one control can serve run
        after run (a stop asked for before a run begins still stops it)."""
        if self._ended:
            self._reset()
        self._loop = asyncio.get_running_loop()

    def end(self) -> None:
        """Called by the run as it ends; what stopped it stays readable until the next."""
        self._ended = True

    def _in_loop(self, call: Callable[[], None], *, from_signal: bool = False) -> None:
        """Runs ``call`` in the run's event loop: at once when already there, else handed
        over. A signal handler always hands it over: it may have interrupted the loop
        half-way through its own work."""
        loop = self._loop
        if loop is None or loop.is_closed():
            call()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop and not from_signal:
            call()
        else:
            loop.call_soon_threadsafe(call)

    async def pause(self, seconds: float) -> None:
        """Sleeps, unless the run is interrupted meanwhile."""
        with anyio.move_on_after(seconds):
            await self.wait_interrupted()

    def halt(self, reason: str, *, kind: str | None = None) -> None:
        if not self.stopping:
            self.stopping, self.reason, self.reason_kind = True, reason, kind

    def interrupt(self) -> None:
        self._in_loop(self._interrupt)

    def abandon(self) -> None:
        self._in_loop(self._abandon)

    def _interrupt(self) -> None:
        self.halt("the run was interrupted; run again with --resume to send it")
        self.interrupted = True
        if self._interrupt_event is not None:
            self._interrupt_event.set()

    def _abandon(self) -> None:
        self._interrupt()
        self._abandoned = True
        if self._abandon_event is not None:
            self._abandon_event.set()

    def on_signal(self) -> None:
        """First signal: stop taking rows; the next one: abandon requests in flight.

        Safe in a signal handler: the work is handed to the run's event loop.
        """
        self._in_loop(self._on_signal, from_signal=True)

    def _on_signal(self) -> None:
        if self.interrupted:
            log.warning("abandoning the requests in flight")
            self._abandon()
            return
        log.warning(
            f"stopping: no new rows; waiting up to {self.grace:g} s for the requests in "
            "flight (Ctrl-C again to abandon them)"
        )
        self._interrupt()

    async def wait_interrupted(self) -> None:
        if not self.interrupted:
            # One event for every waiter: a second one must not leave the first unwoken.
            if self._interrupt_event is None:
                self._interrupt_event = anyio.Event()
            await self._interrupt_event.wait()

    async def wait_abandoned(self) -> None:
        if not self._abandoned:
            if self._abandon_event is None:  # one event for every waiter
                self._abandon_event = anyio.Event()
            await self._abandon_event.wait()


@contextlib.contextmanager
def catch_signals(control: RunControl) -> Iterator[None]:
    """While the block runs, the control's signals stop the run instead of raising.

    Only the main thread can set signal handlers; elsewhere this does nothing, and the
    caller in the main thread (``run``) catches them. The handlers that were there
    before (a notebook kernel's, say) are put back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    try:
        for number in control.signals:
            previous[number] = signal.signal(number, lambda *_: control.on_signal())
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


async def until_stopped(work: Callable[[], Awaitable[None]], control: RunControl) -> None:
    """Runs ``work`` shielded from cancellation. A cancellation of the caller stops it as
    Ctrl-C does (no new rows, the grace period for requests in flight), and goes on once
    ``work`` has ended."""
    done = False
    failure: BaseException | None = None

    async def guard(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            if not done:
                control.interrupt()

    control.bind()
    try:
        async with anyio.create_task_group() as tasks:
            await tasks.start(guard)
            with anyio.CancelScope(shield=True):
                try:
                    await work()
                except BaseException as exc:  # re-raised as it is, not in an ExceptionGroup
                    failure = exc
            done = True
            tasks.cancel_scope.cancel()
    finally:
        control.end()
    if failure is not None:
        raise failure
    await anyio.lowlevel.checkpoint_if_cancelled()  # a cancellation that came meanwhile
