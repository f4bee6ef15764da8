"""The exceptions ``bulk`` raises, and the kinds of per-row failure it records.

Errors that stop a whole run are exceptions; a single row's trouble never is, it
becomes a row of the results table with a ``status``, an ``error`` and an
``error_kind``.

Exception tree::

    BulkError                  anything bulk raises on purpose; carries, where known,
    │                          .row, and the request's .method, .url and .status
    ├── UsageError             a bad argument or setting (CLI exit 2)
    │   ├── ConfigError        API key, base URL or transport settings
    │   └── OptionError        an option out of its range (.name, .rule, .value)
    ├── ManifestError          the manifest cannot be used at all (CLI exit 2):
    │                          missing file, unknown extension, unreadable file,
    │                          missing required column
    └── ServiceError           the server could not be used: the key refused, the
                               apps could not be listed (a plan, say)

    KeyboardInterrupt
    └── Interrupted            Ctrl-C (or SIGTERM) stopped the run; ``.results`` holds
                               the results table: ids of the apps created so far,
                               unsent rows ``skipped`` (CLI exit 130)

    Exception
    ├── Unsettled              inside a run only: no listing could say whether an app
    │                          exists (.kind, and the listing's .method, .url, .status)
    ├── Refused                inside the client only: a request the session would not
    │                          send, or a redirect it would not follow (a row's error)
    └── PagingError            inside the client only: a listing's paging that cannot be
                               followed (an ``Unsettled`` listing)

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
    "OptionError",
    "PagingError",
    "Refused",
    "ServiceError",
    "Unsettled",
    "UsageError",
]

ERROR_KINDS = ("validation", "auth", "rate_limited", "server", "network", "ambiguous", "client")


class BulkError(Exception):
    """Base class of every error bulk raises on purpose. Carries its context where there
    is one: ``row`` (the manifest's row number), the request's ``method`` and ``url``, and
    the ``status`` of its answer; None where not."""

    def __init__(
        self,
        message: str = "",
        *,
        row: int | None = None,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.row, self.method, self.url, self.status = row, method, url, status


class UsageError(BulkError):
    """A bad argument or setting."""


class ConfigError(UsageError):
    """The API key, base URL or transport settings cannot be used."""


class OptionError(UsageError):
    """An option out of its range. Says the fix in the library's spelling
    (``max_retries=5``); ``as_flag()`` in the command line's (``--max-retries``)."""

    def __init__(self, name: str, rule: str, value: object, example: object) -> None:
        self.name, self.rule, self.value = name, rule, value
        super().__init__(f"{name} must be {rule}, e.g. {name}={example}; got {value!r}")

    def as_flag(self) -> str:
        return f"--{self.name.replace('_', '-')} must be {self.rule}; got {self.value}"


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


class Unsettled(Exception):
    """No listing could be had: whether the app exists is unknown. Never leaves a run: a
    row's error, or a plan's ``ServiceError``."""

    def __init__(
        self,
        message: str,
        kind: str = "server",
        *,
        method: str = "GET",
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind  # the error kind of the last answer: auth, server, network...
        self.method, self.url, self.status = method, url, status

    def context(self) -> dict[str, Any]:
        """The request and its answer, as a ``ServiceError`` made of this one carries them."""
        return {"method": self.method, "url": self.url, "status": self.status}


class Refused(Exception):
    """A request the session would not send, or a redirect it would not follow."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class PagingError(Exception):
    """An answer whose paging cannot be followed; the message says what it saw."""
