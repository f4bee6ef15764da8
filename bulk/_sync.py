"""``run``: the synchronous face of ``arun``, for scripts and notebooks; ``blocking``
gives ``plan``, ``apply`` and ``delete`` theirs the same way."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import anyio
import pandas as pd

from ._control import RunControl, catch_signals
from ._options import Manifest, RunOptions, takes_options
from ._runner import execute_frame

__all__ = ["blocking", "run"]


@takes_options(RunOptions)
def run(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """Runs ``arun`` to completion and returns its table; same arguments, same meaning.

    Inside a running event loop (a Jupyter cell), the run gets an event loop of its own
    in a helper thread and this call waits for it, so it never fails with
    "asyncio.run() cannot be called from a running event loop". Either way Ctrl-C (a
    notebook's interrupt) stops the run as on the command line, and this call raises
    ``Interrupted`` whose ``.results`` holds what was done.
    """
    return blocking(execute_frame, manifest, options)


def blocking(
    function: Callable[[Any, Any], Awaitable[pd.DataFrame]], given: Any, options: Any
) -> pd.DataFrame:
    """``await function(given, options)`` from synchronous code, notebooks included."""
    control = options.control or RunControl()
    call = functools.partial(
        anyio.run, functools.partial(function, given, replace(options, control=control))
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()  # arun turns the signals of the main thread into a clean stop
    with catch_signals(control), ThreadPoolExecutor(1, thread_name_prefix="bulk-run") as pool:
        return _wait(pool.submit(call), control)


def _wait(future: Future[pd.DataFrame], control: RunControl) -> pd.DataFrame:
    """Waits for the helper thread; a KeyboardInterrupt meanwhile stops its run."""
    while True:
        try:
            # Woken now and then: a signal the OS handed to another thread is only
            # acted on once this thread runs Python again.
            return future.result(timeout=0.25)
        except TimeoutError:
            continue
        except KeyboardInterrupt:
            if future.done():
                return future.result()
            control.on_signal()
