"""What a row needs, given the apps of its name that the server holds now.

Names identify apps: a row whose name the team already has is not sent. The ids come
from this run's listing of this target, and from nothing older; what an earlier run of
the same journal did only says which of those ids that run made.
"""

from __future__ import annotations

from ._directory import conflict_message
from ._journal import Prior
from ._payloads import Row
from ._results import Result

__all__ = ["decide"]


def decide(row: Row, ids: list[str], prior: Prior | None, *, skip_existing: bool) -> Result | None:
    """What a row needs, given the ids of the apps of its name on the server now and what
    an earlier run of the same journal did; None: send it. Sets ``row.existing``."""
    if prior is not None and prior.app_id in ids:
        return Result(row.number, row.name, "created", prior.app_id)
    if prior is not None and prior.sent:
        # Sent by an earlier run with no outcome recorded: an app that was not there
        # before it was sent is that run's.
        new = [app_id for app_id in ids if app_id not in prior.existing]
        if len(new) == 1:
            return Result(row.number, row.name, "created", new[0])
        if new:
            return _conflict(row, new)
    if skip_existing and len(ids) == 1:
        return Result(row.number, row.name, "exists", ids[0])
    if skip_existing and ids:
        return _conflict(row, ids)
    row.existing = tuple(ids)
    return None


def _conflict(row: Row, ids: list[str]) -> Result:
    error = f"row {row.number}: name: {conflict_message(row.team, row.name, ids)}"
    return Result(row.number, row.name, "failed", error=error, error_kind="client")
