"""The result of a row a run did not finish: invalid, abandoned in flight, not retried, or
not sent. Every such row of every path gets it from here."""

from __future__ import annotations

from .._http.client import Kind, Reply
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
        return _in_doubt(row, "abandoned before its answer came", attempts, None)
    if last is not None and last.kind is Kind.AMBIGUOUS:  # a 500, 502, 504 or a drop
        return _in_doubt(row, "the run stopped before it was settled", attempts, last)
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


def _in_doubt(row: Row, what: str, attempts: int, last: Reply | None) -> Result:
    """A row sent whose fate is unknown: never "send it again", which could create it
    twice, but what --resume does: look it up first."""
    answer = f" (last answer: {last.error})" if last is not None and last.error else ""
    error = (
        f"sent, then {what}{answer}: the app may exist; --resume looks it up before sending again"
    )
    status = last.status if last is not None else None
    return Result(
        row.number, row.name, "skipped", None, status, max(attempts, 1), error, "ambiguous"
    )
