"""``blocking``: the synchronous face of an async operation (``run`` of ``arun``, ``plan``,
``apply``, ``delete`` ...), for scripts and notebooks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any

import anyio
import pandas as pd
from anyio.from_thread import BlockingPortal, start_blocking_portal

from .control import RunControl, catch_signals

__all__ = ["blocking"]


def blocking(
    function: Callable[[Any, Any], Awaitable[pd.DataFrame]], given: Any, options: Any
) -> pd.DataFrame:
    """``await function(given, options)`` from synchronous code, notebooks included."""
    control = options.control or RunControl()
    work = functools.partial(function, given, replace(options, control=control))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(work)  # arun turns the signals of the main thread into a clean stop
    with catch_signals(control), _portal(control.signals) as portal:
        done, value = portal.call(_settled, work)
    if not done:
        raise value
    return value  # type: ignore[no-any-return]


async def _settled(work: Callable[[], Awaitable[pd.DataFrame]]) -> tuple[bool, Any]:
    """The run's table, or the ``Interrupted`` it raised, as a value: a portal lets a
    BaseException through its own event loop as well as to its caller."""
    try:
        return True, await work()
    except KeyboardInterrupt as stop:
        return False, stop


@contextlib.contextmanager
def _portal(signals: tuple[int, ...]) -> Iterator[BlockingPortal]:
    """An event loop of its own in a helper thread. The thread starts with ``signals``
    blocked, so the OS hands them to this (main) thread, whose handlers stop the run."""
    with contextlib.ExitStack() as stack:
        main = threading.current_thread() is threading.main_thread()
        blocked = main and hasattr(signal, "pthread_sigmask")
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals) if blocked else None
        try:
            portal = stack.enter_context(start_blocking_portal())
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        yield portal
