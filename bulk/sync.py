"""``run``: the synchronous face of ``arun``, for scripts and notebooks."""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import Future, ThreadPoolExecutor

import anyio
import pandas as pd

from .config import ApiKey
from .control import RunControl, catch_signals
from .runner import arun

__all__ = ["run"]


def run(
    manifest: str | os.PathLike[str] | pd.DataFrame,
    *,
    output: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    api_key: str | ApiKey | None = None,
    team_id: str | None = None,
    concurrency: int = 8,
    rate: float = 0,
    max_retries: int = 5,
    timeout: float = 30,
    loras: str | os.PathLike[str] | pd.DataFrame | None = None,
    dry_run: bool = False,
    progress: bool = True,
    resume: bool = False,
    skip_existing: bool = True,
    insecure: bool = False,
    api_key_file: str | os.PathLike[str] | None = None,
    control: RunControl | None = None,
) -> pd.DataFrame:
    """Runs ``arun`` to completion and returns its table; same arguments, same meaning.

    Inside a running event loop (a Jupyter cell), the run gets an event loop of its own
    in a helper thread and this call waits for it, so it never fails with
    "asyncio.run() cannot be called from a running event loop". Either way Ctrl-C (a
    notebook's interrupt) stops the run as on the command line, and this call raises
    ``Interrupted`` whose ``.results`` holds what was done.
    """
    options = {k: v for k, v in locals().items() if k not in ("manifest", "control")}
    control = control or RunControl()
    call = functools.partial(
        anyio.run, functools.partial(arun, manifest, control=control, **options)
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
