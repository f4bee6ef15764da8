"""App ids stay ids: one comes from a results file or a server, and goes into a path
(``/app/{id}``). yarl resolves ``..`` and a ``/`` starts another path, so an id is
checked against the documented pattern before any request is built from it."""

from __future__ import annotations

import re

__all__ = ["APP_ID_PATTERN", "app_id_problem"]

# Letters, digits, "-" and "_": what the API's ids are made of, and nothing a path or a
# query could be built from.
APP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


def app_id_problem(app_id: str) -> str | None:
    """None for a well-formed id; else what is wrong with it, in words for the row."""
    if APP_ID_PATTERN.fullmatch(app_id):
        return None
    shown = app_id if len(app_id) <= 60 else app_id[:60] + "..."
    return (
        f"app_id: {shown!r} is not an app id (1 to 128 letters, digits, '-' or '_'), "
        "so nothing was sent for it"
    )
