"""What a row needs, given the apps of its name that the server holds now.

Names identify apps: a row whose name the team already has is not sent. The ids come
from this run's listing of this target, and from nothing older; what an earlier run of
the same journal did only says which of those ids that run made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .._http.directory import conflict_message
from .._output.results import Result, Status
from .._shared import jsoncodec
from .._validating.compare import judge, unshown_in
from .._validating.payloads import Row
from .journal import Prior

__all__ = ["Decision", "decide", "decide_apply", "unshown_result"]

# A row with its result, or the row to send (a new value) with None.
Decision = tuple[Row, Result | None]


def _made_earlier(row: Row, ids: list[str], prior: Prior | None) -> Result | None:
    """The app an earlier run of the same journal created for the row, if it did."""
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
    return None


def decide(row: Row, ids: list[str], prior: Prior | None, *, skip_existing: bool) -> Decision:
    """What a row needs, given the ids of the apps of its name on the server now and what
    an earlier run of the same journal did: its result, or None and the row to send (a
    new value, knowing the ``existing`` ids)."""
    earlier = _made_earlier(row, ids, prior)
    if earlier is not None:
        return row, earlier
    if skip_existing and len(ids) == 1:
        return row, Result(row.number, row.name, "exists", ids[0])
    if skip_existing and ids:
        return row, _conflict(row, ids)
    known = replace(row, existing=tuple(ids))
    return known, unshown_result(known)


def unshown_result(row: Row) -> Result | None:
    """A row to create that lacks LoRA fields listings never show (it was exported)."""
    error = unshown_in(row.payload)
    if error is None:
        return None
    return Result(
        row.number, row.name, "invalid", error=f"row {row.number}: {error}", error_kind="validation"
    )


def decide_apply(row: Row, apps: Sequence[Mapping[str, Any]], prior: Prior | None) -> Decision:
    """``apply``'s decision: the row's result (created earlier, unchanged, drifted or
    conflict), or None and the row to send: a POST, or a PUT of the changed fields."""
    ids = [str(app.get("id")) for app in apps]
    earlier = _made_earlier(row, ids, prior)
    if earlier is not None:
        return row, earlier
    j = judge(jsoncodec.loads(row.payload), apps)
    if j.action == "create":
        return replace(row, existing=tuple(ids)), None
    if j.action == "invalid":
        return row, Result(
            row.number,
            row.name,
            "invalid",
            j.app_id,
            error=f"row {row.number}: {j.error}",
            error_kind="validation",
        )
    if j.action == "conflict":
        return row, _conflict(row, ids, status="conflict")
    if j.action == "unchanged":
        return row, Result(row.number, row.name, "unchanged", j.app_id)
    if j.action == "replace":
        error = "differs in what an update cannot change, so nothing was sent: "
        return row, Result(
            row.number, row.name, "drifted", j.app_id, error=error + "; ".join(j.fixed)
        )
    workers = j.workers_after if j.workers_after > j.workers_before else 0
    put = jsoncodec.dumps(j.put)
    return replace(
        row, existing=tuple(ids), op="update", target=j.app_id, payload=put, workers=workers
    ), None


def _conflict(row: Row, ids: list[str], *, status: Status = "failed") -> Result:
    error = f"row {row.number}: name: {conflict_message(row.team, row.name, ids)}"
    return Result(row.number, row.name, status, error=error, error_kind="client")
