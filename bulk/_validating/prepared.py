"""Step 2: one pass over the manifest before anything is sent.

Every row is read, validated and encoded once; what the run needs to know about all of
them (count, teams, digest for the journal, the first body) is gathered on the way, and
the rows themselves go to ``keep`` chunk by chunk (a spool for a real run, the results
for a dry run). Nothing is sent before this pass has read the whole manifest, so an
unusable manifest stops the run with nothing sent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import pandas as pd

from .._reading.delimited import Reading
from .._reading.manifest import ManifestReader
from .digest import RowsDigest
from .payloads import MAX_BODY_BYTES, Row, Validator
from .spool import Spool

__all__ = ["Prepared", "gather", "prepare", "spool_rows", "spooled_rows"]


@dataclass
class Prepared:
    source: str
    count: int = 0
    teams: tuple[str, ...] = ()  # of every row; "" for the user's own apps
    sending_teams: tuple[str, ...] = ()  # of the valid rows: the ones to list
    digest: str = ""
    first_body: str | None = None  # the first valid body, pretty, for a dry run to show
    warnings: list[str] = field(default_factory=list)


def prepare(
    manifest: str | os.PathLike[str] | pd.DataFrame,
    *,
    loras: str | os.PathLike[str] | pd.DataFrame | None,
    team_id: str | None,
    keep: Callable[[list[Row]], None],
    allow_large: bool = False,
    reading: Reading | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Prepared:
    reader = ManifestReader(manifest, loras=loras, reading=reading)
    validate = Validator(team_id=team_id, allow_large=allow_large, max_body_bytes=max_body_bytes)
    prepared = gather(reader.source, (validate(records) for records in reader), keep)
    prepared.warnings = reader.warnings  # known once the whole manifest was read
    return prepared


def gather(source: str, chunks: Iterable[list[Row]], keep: Callable[[list[Row]], None]) -> Prepared:
    """The pass itself, over rows however they were made (a manifest, a results file)."""
    digest, prepared, teams, sending = RowsDigest(), Prepared(source), set(), set()
    for rows in chunks:
        digest.update(rows)
        for index, row in enumerate(rows):
            teams.add(row.team or "")
            if row.error:
                continue
            sending.add(row.team or "")
            if prepared.first_body is None and row.body is not None:
                prepared.first_body = json.dumps(row.body, indent=2, ensure_ascii=False)
            rows[index] = replace(row, body=None)  # the payload holds it: dead weight now
        prepared.count += len(rows)
        keep(rows)
    prepared.teams, prepared.sending_teams = tuple(sorted(teams)), tuple(sorted(sending))
    prepared.digest = digest.hexdigest()
    return prepared


def spool_rows(spool: Spool, rows: list[Row]) -> None:
    """Parks the rows as plain tuples: smaller and quicker to pickle than objects."""
    spool.append(
        [(r.number, r.name, r.team, r.payload, r.key, r.error, r.workers, r.target) for r in rows]
    )


def spooled_rows(spool: Spool, *, start: int = 1) -> Iterator[Row]:
    """The rows parked by ``spool_rows``, from row number ``start`` on."""
    for batch in spool.batches():
        if batch[-1][0] < start:
            continue
        for number, name, team, payload, key, error, workers, target in batch:
            if number >= start:
                yield Row(
                    number, name, team, None, payload, key, error, workers=workers, target=target
                )
