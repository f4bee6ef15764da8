"""``apply``: bring the team's apps to the manifest. Creates what is missing, updates
what differs in fields an update can change, and reports the rest; through the same
pacer, retries, journal and results as ``create``."""

from __future__ import annotations

import functools

import pandas as pd

from ._options import Manifest, RunOptions, takes_options
from ._runner import execute_frame
from ._sync import blocking

__all__ = ["aapply", "apply"]


@takes_options(RunOptions)
async def aapply(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """Carries out a fresh plan: a POST for each ``create`` row, a PUT of the changed
    fields for each ``update`` row. Rows end created, updated, unchanged, drifted (a
    field an update cannot change differs: nothing sent, the fields in ``error``),
    conflict (two apps share the name: nothing sent), failed, invalid or skipped.
    Same table and ``attrs`` as ``arun``."""
    return await execute_frame(manifest, options, mode="apply")


@takes_options(RunOptions)
def apply(manifest: Manifest, options: RunOptions) -> pd.DataFrame:
    """``aapply`` for synchronous code and notebooks; same arguments, same table."""
    return blocking(functools.partial(execute_frame, mode="apply"), manifest, options)
