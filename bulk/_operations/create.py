"""``create``: ``arun`` and ``run``, the run of ``_running`` turned into a table, and with
``--wait`` the wait for the apps it made (an operation of this floor, as ``wait`` is)."""

from __future__ import annotations

import pandas as pd

from .._running.options import Manifest, Mode, RunOptions, takes_options
from .._running.runner import execute
from .._running.sync import blocking
from .._shared.errors import Interrupted
from .wait import settle_results

__all__ = ["arun", "execute_frame", "run"]


@takes_options(RunOptions)
async def arun(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """Creates one app per valid manifest row whose name the team does not have yet;
    returns one result row per manifest row (a DataFrame manifest's index is kept).

    ``frame.attrs`` carries ``summary`` (text), ``output`` (path or None), ``stopped``
    (why the run stopped early, or None), ``warnings`` and ``first_body``.
    Ctrl-C (in the main thread) or ``control.interrupt()`` stops the run taking rows;
    it then raises ``Interrupted`` with the results so far. A cancelled run stops the
    same way, writes what it has, and lets the cancellation propagate.
    """
    return await execute_frame(manifest, options)


async def execute_frame(
    manifest: Manifest, options: RunOptions, *, mode: Mode = "create"
) -> pd.DataFrame:
    """``arun`` (or, with ``mode="apply"``, ``aapply``) taking its options as one object."""
    index = manifest.index if isinstance(manifest, pd.DataFrame) else None
    outcome = await execute(manifest, options, mode=mode)
    try:
        frame = outcome.frame(index)
    finally:
        outcome.close()
    if outcome.report.interrupted:
        raise Interrupted(frame)
    if options.wait and not options.dry_run and not outcome.report.stopped:
        frame = await settle_results(frame, options)
        if frame.attrs["interrupted"]:
            raise Interrupted(frame)
    return frame


@takes_options(RunOptions)
def run(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """Runs ``arun`` to completion and returns its table; same arguments, same meaning.

    Inside a running event loop (a Jupyter cell), the run gets an event loop of its own
    in a helper thread (an anyio blocking portal) and this call waits for it, so it never
    fails with "asyncio.run() cannot be called from a running event loop". Either way Ctrl-C (a
    notebook's interrupt) stops the run as on the command line, and this call raises
    ``Interrupted`` whose ``.results`` holds what was done.
    """
    return blocking(execute_frame, manifest, options)
