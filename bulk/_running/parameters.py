"""What each parameter of ``run``, ``arun``, ``plan``, ``apply``, ``delete`` and ``wait``
means, written once: ``takes_options`` appends the ones a function takes to its docstring, so that
``help(bulk.run)`` documents every argument."""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Iterable

__all__ = ["PARAMETERS", "documented"]

PARAMETERS = {
    "manifest": "the manifest: a path to a .csv, .tsv, .parquet, .jsonl, .ndjson or .xlsx "
    "file, or a pandas DataFrame; one row per app.",
    "results": "a results file of create or apply (.csv, .parquet, .jsonl): delete deletes "
    "the apps its 'created' rows name; wait waits for the apps it created or changed.",
    "output": "the file the table is written to (.csv, .parquet, .jsonl), replaced whole; "
    "None: no file. A run's journal lives beside it (``resume`` needs one).",
    "base_url": "the API's base URL; None: $RUNGEN_BASE_URL, else https://api.rungen.ai.",
    "api_key": "the API key, a str or an ``ApiKey``; None: $RUNGEN_API_KEY (or "
    "``api_key_file``). Sent in the request header only, to the base URL's host only.",
    "team_id": "the team that owns every app (a team_id column overrides it per row); "
    "None: the key's own apps.",
    "concurrency": "requests in flight at once, 1 or more.",
    "rate": "most requests per second, retries included; 0: no cap.",
    "max_retries": "retries of a request after its first attempt, 0 or more.",
    "timeout": "seconds per request, more than 0.",
    "loras": "a long-form LoRA table joined on the app name (a path or a DataFrame with "
    "columns app, id, versionId, downloadUrl, name, weight); None: the manifest's own.",
    "dry_run": "send nothing: validate and build every body (a run), or list what would "
    "be deleted (delete).",
    "progress": "show a progress bar.",
    "resume": "finish an earlier run of the same input and ``output`` from its journal.",
    "skip_existing": "a row whose name the team already has ends 'exists' with that app's "
    "id and is not sent; False creates a second app of that name.",
    "insecure": "allow a plain-http base URL that is not a loopback address.",
    "api_key_file": "a file holding the API key, read when ``api_key`` is None.",
    "control": "a ``RunControl`` to stop the run from another task or thread; None: Ctrl-C "
    "(in the main thread) stops it.",
    "max_active_workers": "refuse, before sending anything, when the apps created or raised "
    "would ask for more active workers than this in all; None: "
    "$RUNGEN_MAX_ACTIVE_WORKERS, else no limit.",
    "allow_large": "allow more than 1,000 active workers in one row.",
    "encoding": "text encoding of CSV and JSONL files (a BOM is fine); cp1252 for Excel "
    "exports on Windows.",
    "delimiter": "the CSV delimiter; None: sniffed among , ; tab and |.",
    "sheet": "the sheet of an .xlsx manifest; None: the first.",
    "include_existing": "also delete the apps the run found (exists, unchanged...), not "
    "only the ones it created.",
    "connect_timeout": "seconds to connect, more than 0; a connect that stalls sent nothing, "
    "so it is simply retried.",
    "settle_wait": "seconds after an ambiguous failure before the listing that settles it, "
    "at least ``timeout``; None: the timeout.",
    "loras_encoding": "text encoding of a CSV or JSONL LoRA table.",
    "max_body_bytes": "a row whose body would be larger is 'invalid', 1 or more.",
    "wait": "then wait until the apps created or changed have settled (RUNNING with active "
    "workers, STOPPED without); the table gains a ``state`` column.",
    "wait_timeout": "seconds the wait lasts at most, 0 or more.",
    "prune": "plan and apply: also delete the apps of the manifest's teams that no row "
    "names; refused for a team whose rows are all invalid or that has none.",
    "max_deletes": "a prune refuses to delete more apps than this.",
    "clock": "what the wait is timed by (``time.monotonic``; tests give a virtual one).",
    "sleep": "what the wait sleeps by (``anyio.sleep``; tests give a virtual one).",
}


def documented(doc: str | None, names: Iterable[str]) -> str:
    """``doc`` with a ``Parameters:`` section naming each of ``names``."""
    lines = [
        textwrap.fill(
            PARAMETERS[name], 88, initial_indent=f"    {name}: ", subsequent_indent=" " * 8
        )
        for name in names
    ]
    return inspect.cleandoc(doc or "") + "\n\nParameters:\n" + "\n".join(lines) + "\n"
