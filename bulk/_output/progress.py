"""Seeing what happens: the progress bar while running, and the rows worth showing at the end."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .results import STATUSES, SUCCESS, Result

__all__ = ["Progress", "describe_rows", "printable"]


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


class Progress:
    """A tqdm bar on stderr: done/total, then the count of each status met so far, in the
    command's own words (created, exists; updated; deleted, gone...), and failed. Hidden
    when stderr is no terminal."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.counts: Counter[str] = Counter()
        self._bar: Any = None
        if not enabled or total == 0:
            return
        if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm as notebook_bar

            self._bar = notebook_bar(total=total, unit="app", desc="apps")
        elif _in_notebook():
            # No ipywidgets: the text bar, quietly (tqdm.auto would warn on every run).
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="app", desc="apps", file=sys.stderr)
        else:
            from tqdm import tqdm

            # disable=None: off when stderr is not a terminal (CI logs, cron mail).
            self._bar = tqdm(total=total, unit="app", desc="apps", file=sys.stderr, disable=None)

    def add(self, result: Result) -> None:
        self.counts[result.status] += 1
        if self._bar is not None:
            self._bar.update(1)
            counts = self.counts
            shown = {s: counts[s] for s in STATUSES if counts[s] and s != "failed"}
            self._bar.set_postfix(refresh=False, **shown, failed=counts["failed"])

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def printable(name: Any) -> str:
    """A name as the table shows it: a control character escaped (``ab\\x00c``), never
    printed as a blank that hides it."""
    text = str(name)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def describe_rows(
    batches: Iterable[Sequence[tuple[Any, ...]]], total: int, *, limit: int = 30
) -> str:
    """Every row when there are few; otherwise the rows that need attention, first ones.
    ``batches`` hold result tuples in the order of ``COLUMNS``."""
    lines, shown = [], 0
    for batch in batches:
        for row, name, status, app_id, _, _, error, *_ in batch:
            if total > limit and status in SUCCESS:
                continue
            shown += 1
            if shown <= limit:
                detail = app_id if status in SUCCESS else error
                detail = detail if isinstance(detail, str) else ""
                lines.append(f"  row {row:>4}  {status:<8} {printable(name):<32.32} {detail}")
    if shown > limit:
        lines.append(f"  ... and {shown - limit} more: see the results file")
    return "\n".join(lines)
