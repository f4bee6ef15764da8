"""``apply``: bring the team's apps to the manifest. Creates what is missing, updates
what differs in fields an update can change, and reports the rest; through the same
pacer, retries, journal and results as ``create``."""

from __future__ import annotations

import pandas as pd

from .._running.options import Manifest, RunOptions, takes_options
from .._running.sync import blocking
from .create import execute_frame
from .prune import default_pruned_output, prune_apps, prune_plan, pruning_options

__all__ = ["aapply", "apply"]


@takes_options(RunOptions)
async def aapply(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """Carries out a fresh plan: a POST for each ``create`` row, a PUT of the changed
    fields for each ``update`` row. Rows end created, updated, unchanged, drifted (a
    field an update cannot change differs: nothing sent, the fields in ``error``),
    conflict (two apps share the name: nothing sent), failed, invalid or skipped.
    Same table and ``attrs`` as ``arun``. ``prune=True`` then deletes the apps of the
    manifest's teams that no row names (``attrs["pruned"]``: their results), refusing
    with ``UsageError`` before any write when a team's rows are all invalid or it has
    none, or when more than ``max_deletes`` would go. Calling it is the confirmation."""
    return await apply_frame(manifest, options)


@takes_options(RunOptions)
def apply(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """``aapply`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(apply_frame, manifest, options)


async def apply_frame(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """``aapply`` taking its options as one object."""
    doomed = await prune_plan(manifest, options) if options.prune else []
    frame = await execute_frame(manifest, options, mode="apply")
    if doomed and not frame.attrs["stopped"]:
        out = None if options.output is None else default_pruned_output(options.output)
        pruned = await prune_apps(doomed, manifest, pruning_options(options, out))
        try:
            frame.attrs["pruned"] = pruned.frame()
        finally:
            pruned.close()
    return frame
