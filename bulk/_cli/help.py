"""The help screens: each command's plain sentence, its options with their defaults,
then examples, the environment, the files it writes and the exit statuses."""

from __future__ import annotations

import argparse

__all__ = ["EPILOGS", "EXITS", "TOP", "Help"]

TOP = (
    "Create, plan, update, wait for, list, export, prune and roll back RunGen.AI apps from "
    "one manifest file."
)

ENVIRONMENT = """environment:
  RUNGEN_API_KEY              the API key (or --api-key-file PATH); never printed
  RUNGEN_BASE_URL             the API (default https://api.rungen.ai)
  RUNGEN_MAX_ACTIVE_WORKERS   the cost guard of create and apply (--max-active-workers)"""

_EXIT_LINES = {
    0: "0    done",
    1: "1    some rows failed or are invalid (the run itself finished)",
    2: "2    usage error or unusable input; nothing was sent",
    3: "3    the server stopped the run early (key refused, service down); unsent rows skipped",
    4: "4    plan --detailed-exitcode only: the plan would create, update or replace",
    130: "130  interrupted (Ctrl-C, SIGTERM); run the same command with --resume",
}
# Each command's help lists only the statuses it can end with, in its own words.
_OWN_EXITS = {
    "plan": {
        1: "1    some row is invalid or in conflict",
        3: "3    the apps could not be listed (key refused, service down)",
        4: "4    with --detailed-exitcode: the plan would create, update or replace",
        130: "130  interrupted (Ctrl-C, SIGTERM)",
    },
    "delete": {1: "1    some apps were not deleted (failed, skipped), or the answer was no"},
    "serve": {
        0: "0    stopped (Ctrl-C, SIGTERM)",
        2: "2    usage error (a bad option, an address already in use)",
    },
}
_CODES = {"plan": (0, 1, 2, 3, 4, 130), "serve": (0, 2)}


def _exits(command: str | None = None) -> str:
    """Every status (the top help), or those of ``command``."""
    codes = tuple(_EXIT_LINES) if command is None else _CODES.get(command, (0, 1, 2, 3, 130))
    own = _OWN_EXITS.get(command, {}) if command else {}
    return "exit status:\n" + "\n".join(f"  {own.get(c, _EXIT_LINES[c])}" for c in codes)


EXITS = _exits()

_RUN_FILES = """files written:
  <manifest stem>.results.csv         one row per manifest row (-o to choose)
  <results stem>.journal.jsonl        every intent before its request, for --resume
  --summary-json PATH                 the run's report as JSON"""

_EXAMPLES = {
    "create": """examples:
  python -m bulk create apps.csv --emulator        try it now, offline
  python -m bulk create apps.csv --team-id team_42 --rate 20
  python -m bulk create apps.csv --resume          finish a run that was stopped
  python -m bulk create apps.xlsx --sheet Apps --dry-run""",
    "plan": """examples:
  python -m bulk plan apps.csv --team-id team_42
  python -m bulk plan apps.csv --detailed-exitcode -q && echo nothing to do""",
    "apply": """examples:
  python -m bulk apply apps.csv --team-id team_42 --max-active-workers 200
  python -m bulk apply apps.csv --resume""",
    "delete": """examples:
  python -m bulk delete apps.results.csv --dry-run     list what would go
  python -m bulk delete apps.results.csv --yes         roll back without asking""",
    "wait": """examples:
  python -m bulk wait apps.results.csv                  until they run, 600 s at most
  python -m bulk wait apps.results.csv --wait-timeout 1800 -o night.wait.csv""",
    "status": """examples:
  python -m bulk status --team-id team_42
  python -m bulk status apps.csv -o live.parquet        the manifest's teams; managed column""",
    "export": """examples:
  python -m bulk export --team-id team_42 -o team_42.csv
  python -m bulk plan team_42.csv --team-id team_42 --detailed-exitcode   exits 0""",
    "serve": """examples:
  python -m bulk serve --port 8080 --rate-limit 50 --error-rate 0.1
  python -m bulk serve --port 0 --api-key test-key-1234 --no-idempotency""",
}

_FILES = {
    "create": _RUN_FILES,
    "apply": _RUN_FILES,
    "plan": """files written:
  <manifest stem>.plan.csv            one row per manifest row with its action (-o)""",
    "delete": """files written:
  <results stem>.deleted.csv          one row per app with its fate (-o to choose)
  <output stem>.journal.jsonl         every intent before its request, for --resume
  --summary-json PATH                 the rollback's report as JSON""",
    "wait": """files written:
  <results stem>.wait.csv             the results with a state column (-o to choose)
  --summary-json PATH                 the wait's report as JSON""",
    "status": """files written:
  -o PATH                             the table (.csv, .parquet, .jsonl), only with -o
  --summary-json PATH                 counts by status as JSON""",
    "export": """files written:
  -o PATH                             the manifest (.csv, .parquet, .jsonl, .xlsx)
  --summary-json PATH                 the export's report as JSON""",
    "serve": "files written: none (the emulator keeps its apps in memory)",
}

_NO_ENVIRONMENT = ("serve",)  # the emulator reads no RUNGEN_ variable

EPILOGS = {
    name: "\n\n".join(
        part
        for part in (
            _EXAMPLES[name],
            "" if name in _NO_ENVIRONMENT else ENVIRONMENT,
            _FILES[name],
            _exits(name),
        )
        if part
    )
    for name in _EXAMPLES
}


class Help(argparse.RawDescriptionHelpFormatter):
    """Epilogs as written; every option that has a default shows it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text
        if shown and action.option_strings:
            text += " (default: %(default)s)"
        return text
