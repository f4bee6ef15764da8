"""The result of a row a run did not finish: invalid, abandoned in flight, not retried, or
not sent. Every such row of every path gets it from here."""

from __future__ import annotations

from .._http.client import Reply
from .._output.results import Result
from .._validating.payloads import Row
from .control import RunControl

__all__ = ["unfinished"]


def unfinished(
    row: Row,
    control: RunControl,
    *,
    attempts: int = 0,
    last: Reply | None = None,
    in_flight: bool = False,
) -> Result:
    """The result of a row the run did not finish: invalid, abandoned in flight, not
    retried, or not sent. Every such row of every path gets it from here."""
    if row.error:
        return Result(row.number, row.name, "invalid", error=row.error, error_kind="validation")
    if in_flight:  # its answer never came: it may exist
        error = (
            "sent, then abandoned before its answer came: the app may exist; --resume looks "
            "it up before sending again"
        )
        return Result(
            row.number,
            row.name,
            "skipped",
            attempts=max(attempts, 1),
            error=error,
            error_kind="ambiguous",
        )
    reason = control.reason or "the run stopped"
    if last is None:
        return Result(
            row.number,
            row.name,
            "skipped",
            error=f"not sent: {reason}",
            error_kind=control.reason_kind,
        )
    error = f"not retried: {reason}" + (f"; last answer: {last.error}" if last.error else "")
    return Result(
        row.number, row.name, "skipped", None, last.status, attempts, error, last.kind.value
    )
