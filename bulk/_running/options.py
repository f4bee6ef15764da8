"""The options of a run, written once: ``RunOptions``. They are checked up front, each
message naming the parameter and the fix, then frozen. ``run``, ``arun`` and the command
line all build one; ``takes_options`` gives a function taking a ``RunOptions`` the
keyword signature of its fields, for users, their editors and type checkers alike."""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Literal,
    ParamSpec,
    Protocol,
    TypeAlias,
    TypeVar,
)

from .._reading.delimited import Reading
from .._shared.config import ApiKey
from .._shared.errors import OptionError, UsageError
from .parameters import documented

if TYPE_CHECKING:  # pandas and anyio load when a run starts, not to parse the command line
    import pandas as pd

    from .control import RunControl

__all__ = [
    "Manifest",
    "Mode",
    "RunOptions",
    "Sending",
    "Target",
    "check_arguments",
    "check_team",
    "check_wait_timeout",
    "takes_options",
]

Manifest: TypeAlias = "str | os.PathLike[str] | pd.DataFrame"
# What a run does with a row it may send: create only adds; apply also updates.
Mode = Literal["create", "apply"]
P = ParamSpec("P")
T = TypeVar("T")
Opts = TypeVar("Opts")  # an options dataclass
G = TypeVar("G")  # what the function is given: a manifest, a results file


def check_team(team_id: str | None) -> None:
    if team_id is not None and not team_id.strip():
        raise UsageError(
            "--team-id (team_id=) is empty: give a team id, or leave it out for the key's own apps"
        )


def check_wait_timeout(value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    if not ok:
        raise _invalid("wait_timeout", "seconds, 0 or more", value)


def check_arguments(concurrency: int, rate: float, max_retries: int, timeout: float) -> None:
    checks = [
        (
            "concurrency",
            concurrency,
            isinstance(concurrency, int) and concurrency >= 1,
            "a whole number 1 or more",
        ),
        (
            "rate",
            rate,
            isinstance(rate, int | float) and math.isfinite(rate) and rate >= 0,
            "requests per second, 0 for no cap",
        ),
        (
            "max_retries",
            max_retries,
            isinstance(max_retries, int) and max_retries >= 0,
            "a whole number 0 or more",
        ),
        (
            "timeout",
            timeout,
            isinstance(timeout, int | float) and timeout > 0,
            "seconds per request, more than 0",
        ),
    ]
    for name, value, ok, rule in checks:
        if not ok or isinstance(value, bool):
            raise _invalid(name, rule, value)


def _check_positive(name: str, value: object, rule: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _invalid(name, rule, value)


def _invalid(name: str, rule: str, value: object) -> OptionError:
    """The error for an option out of its range, with its default as the example."""
    return OptionError(name, rule, value, getattr(RunOptions, name, None))


class Sending(Protocol):
    """The options every command that writes to the server has."""

    @property
    def concurrency(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def timeout(self) -> float: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def settle(self) -> float: ...
    @property
    def progress(self) -> bool: ...
    @property
    def resume(self) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class Target:
    """What every command that talks to the server takes first: where its results go,
    the server, the key, the team, and how hard to press."""

    output: str | os.PathLike[str] | None = None
    base_url: str | None = None
    api_key: str | ApiKey | None = field(default=None, repr=False)
    team_id: str | None = None
    concurrency: int = 8
    rate: float = 0
    max_retries: int = 5
    timeout: float = 30
    connect_timeout: float = 10

    def __post_init__(self) -> None:
        check_arguments(self.concurrency, self.rate, self.max_retries, self.timeout)
        _check_positive("connect_timeout", self.connect_timeout, "seconds to connect, more than 0")
        check_team(self.team_id)
        if isinstance(self.api_key, str):
            # Held as an ApiKey, which never renders: dataclasses.asdict(), repr() and
            # a debugger's view of the options show '***', never the key.
            object.__setattr__(self, "api_key", ApiKey(self.api_key))
        wait = getattr(self, "settle_wait", None)  # a field of the commands that write
        if wait is not None and (
            not isinstance(wait, int | float) or isinstance(wait, bool) or not wait >= self.timeout
        ):
            rule = f"seconds, at least the timeout ({self.timeout:g})"
            raise _invalid("settle_wait", rule, wait)

    @property
    def settle(self) -> float:
        """Seconds after an ambiguous failure before the listing that settles it starts:
        at least one request timeout, so that the request could have landed."""
        wait = getattr(self, "settle_wait", None)
        return self.timeout if wait is None else float(wait)


@dataclass(frozen=True, kw_only=True)
class RunOptions(Target):
    """Everything a run takes besides its manifest, with the defaults users see."""

    loras: str | os.PathLike[str] | pd.DataFrame | None = None
    dry_run: bool = False
    progress: bool = True
    resume: bool = False
    skip_existing: bool = True
    insecure: bool = False
    api_key_file: str | os.PathLike[str] | None = None
    control: RunControl | None = None
    max_active_workers: int | None = None
    allow_large: bool = False
    encoding: str = "utf-8"
    delimiter: str | None = None
    sheet: str | None = None
    loras_encoding: str = "utf-8"
    max_body_bytes: int = 1_048_576
    wait: bool = False  # then wait until the apps created or changed have settled
    wait_timeout: float = 600
    prune: bool = False  # plan and apply: delete the apps of a managed team no row names
    max_deletes: int = 10  # a prune refuses to delete more
    settle_wait: float | None = None  # None: the timeout

    @property
    def reading(self) -> Reading:
        """How the manifest and the LoRA table are read."""
        return Reading(self.encoding, self.delimiter, self.sheet, self.loras_encoding)

    def __post_init__(self) -> None:
        super().__post_init__()
        size = self.max_body_bytes
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise _invalid("max_body_bytes", "a whole number of bytes, 1 or more", size)
        limit = self.max_active_workers
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 0
        ):
            raise _invalid("max_active_workers", "a whole number 0 or more", limit)
        check_wait_timeout(self.wait_timeout)
        deletes = self.max_deletes
        if not isinstance(deletes, int) or isinstance(deletes, bool) or deletes < 0:
            raise _invalid("max_deletes", "a whole number 0 or more", deletes)
        if self.resume and (self.output is None or self.dry_run):
            raise UsageError(
                "--resume (resume=True) needs a real run with --output (output=): the "
                "journal lives beside the results file; a dry run has none"
            )


def takes_options(
    options: Callable[P, Opts],
) -> Callable[[Callable[[G, Opts], T]], Callable[Concatenate[G, P], T]]:
    """Turns ``f(given, options)`` into ``f(given, *, output=None, ...)``: the keywords
    are the fields of the ``options`` dataclass, with their defaults."""

    def decorate(function: Callable[[G, Opts], T]) -> Callable[Concatenate[G, P], T]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def call_async(given: Any, *args: Any, **kwargs: Any) -> Any:
                return await function(given, options(*args, **kwargs))

            wrapper: Any = call_async
        else:

            @functools.wraps(function)
            def call(given: Any, *args: Any, **kwargs: Any) -> Any:
                return function(given, options(*args, **kwargs))

            wrapper = call
        wrapper.__signature__ = _signature(function, options)
        wrapper.__doc__ = documented(function.__doc__, wrapper.__signature__.parameters)
        return wrapper  # type: ignore[no-any-return]

    return decorate


def _signature(function: Callable[..., Any], options: Any) -> inspect.Signature:
    """What ``help()`` and notebooks show: the input, then every option and default."""
    first = next(iter(inspect.signature(function).parameters.values()))
    keywords = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in fields(options)
    ]
    return inspect.Signature(
        [first.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD), *keywords],
        return_annotation=inspect.signature(function).return_annotation,
    )
