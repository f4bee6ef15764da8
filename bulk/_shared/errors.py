"""The exceptions ``bulk`` raises, and the kinds of per-row failure it records.

Errors that stop a whole run are exceptions; a single row's trouble never is, it
becomes a row of the results table with a ``status``, an ``error`` and an
``error_kind``.

Exception tree::

    BulkError                  anything bulk raises on purpose
    ├── UsageError             a bad argument or setting (CLI exit 2)
    │   └── ConfigError        API key, base URL or transport settings
    ├── ManifestError          the manifest cannot be used at all (CLI exit 2):
    │                          missing file, unknown extension, unreadable file,
    │                          missing required column
    └── ServiceError           the server could not be used: the key refused, the
                               apps could not be listed (a plan, say)

    KeyboardInterrupt
    └── Interrupted            Ctrl-C (or SIGTERM) stopped the run; ``.results`` holds
                               the results table: ids of the apps created so far,
                               unsent rows ``skipped`` (CLI exit 130)

Row error kinds (the ``error_kind`` column)::

    validation    the row was never sent: the manifest cell is wrong
    auth          401/403: the key was refused; the run stops at once
    rate_limited  429 answers outlasted the retries
    server        5xx answers outlasted the retries (the app is known not to exist)
    network       the connection failed before the request could be applied
    ambiguous     the request may have been applied and no listing could settle it
    client        400, 404, 409, 422 and other final answers
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERROR_KINDS",
    "BulkError",
    "ConfigError",
    "Interrupted",
    "ManifestError",
    "ServiceError",
    "UsageError",
]

ERROR_KINDS = ("validation", "auth", "rate_limited", "server", "network", "ambiguous", "client")


class BulkError(Exception):
    """Base class of every error bulk raises on purpose."""


class UsageError(BulkError):
    """A bad argument or setting."""


class ConfigError(UsageError):
    """The API key, base URL or transport settings cannot be used."""


class ManifestError(BulkError):
    """The manifest (or the LoRA table) cannot be read at all."""


class ServiceError(BulkError):
    """The server could not be used: the key was refused, or it could not be reached."""


class Interrupted(KeyboardInterrupt):
    """The run was interrupted; it stopped taking rows and wrote what it had.

    A KeyboardInterrupt, so that code which stops on Ctrl-C still stops; ``results`` is
    the results DataFrame, as ``run`` would have returned it.
    """

    def __init__(self, results: Any) -> None:
        super().__init__("the run was interrupted; its results so far are in .results")
        self.results = results
