"""``run``: the synchronous face of ``arun``, for scripts and notebooks."""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import anyio
import pandas as pd

from .config import ApiKey
from .control import RunControl
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
    skip_existing: bool = False,
    insecure: bool = False,
    api_key_file: str | os.PathLike[str] | None = None,
    control: RunControl | None = None,
) -> pd.DataFrame:
    """Runs ``arun`` to completion and returns its table; same arguments, same meaning.

    Inside a running event loop (a Jupyter cell), the run gets an event loop of its own
    in a helper thread and this call waits for it, so it never fails with
    "asyncio.run() cannot be called from a running event loop".
    """
    options = {k: v for k, v in locals().items() if k != "manifest"}
    call = functools.partial(anyio.run, functools.partial(arun, manifest, **options))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-run") as pool:
        return pool.submit(call).result()
