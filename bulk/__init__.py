"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from __future__ import annotations

import importlib as _importlib
from importlib import metadata as _metadata
from types import FunctionType
from typing import TYPE_CHECKING, Any

from ._shared.errors import (  # light: no library of its own
    ERROR_KINDS,
    BulkError,
    ConfigError,
    Interrupted,
    ManifestError,
    ServiceError,
    UsageError,
)

if TYPE_CHECKING:
    from ._operations.apply import aapply, apply
    from ._operations.create import arun, run
    from ._operations.delete import DeleteOptions, adelete, delete
    from ._operations.export import aexport, export
    from ._operations.plan import PlanTotals, aplan, plan
    from ._operations.status import STATUS_COLUMNS, LiveOptions, astatus, status
    from ._operations.wait import WaitOptions, await_apps, wait
    from ._output.report import Report
    from ._output.results import COLUMNS, STATUSES, Status
    from ._running.control import RunControl
    from ._running.options import RunOptions
    from ._shared.config import ApiKey
    from ._validating.compare import PlanAction
    from .emulator._background import Emulator

# Where each name of the face lives. They load on first use, so that ``import bulk`` and
# the command line start at once: pandas, aiohttp and pyarrow load when a call needs them.
_HOMES = {
    "._operations.apply": ("aapply", "apply"),
    "._operations.create": ("arun", "run"),
    "._operations.delete": ("DeleteOptions", "adelete", "delete"),
    "._operations.export": ("aexport", "export"),
    "._operations.plan": ("PlanTotals", "aplan", "plan"),
    "._operations.status": ("STATUS_COLUMNS", "LiveOptions", "astatus", "status"),
    "._operations.wait": ("WaitOptions", "await_apps", "wait"),
    "._output.report": ("Report",),
    "._output.results": ("COLUMNS", "STATUSES", "Status"),
    "._running.control": ("RunControl",),
    "._running.options": ("RunOptions",),
    "._validating.compare": ("PlanAction",),
    "._shared.config": ("ApiKey",),
    ".emulator._background": ("Emulator",),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'bulk' has no attribute {name!r}")
    value = _face(getattr(_importlib.import_module(_HOME[name], __name__), name))
    globals()[name] = value  # once loaded, a plain attribute
    return value


def _face(value: Any) -> Any:
    """Classes and functions of the face say ``bulk`` in reprs, tracebacks and help()."""
    if isinstance(value, type | FunctionType):  # not the Literal types, which say typing
        value.__module__ = __name__
    return value


for _error in (BulkError, ConfigError, Interrupted, ManifestError, ServiceError, UsageError):
    _face(_error)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("rungen-bulk")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "COLUMNS",
    "ERROR_KINDS",
    "STATUSES",
    "STATUS_COLUMNS",
    "ApiKey",
    "BulkError",
    "ConfigError",
    "DeleteOptions",
    "Emulator",
    "Interrupted",
    "LiveOptions",
    "ManifestError",
    "PlanAction",
    "PlanTotals",
    "Report",
    "RunControl",
    "RunOptions",
    "ServiceError",
    "Status",
    "UsageError",
    "WaitOptions",
    "__version__",
    "aapply",
    "adelete",
    "aexport",
    "aplan",
    "apply",
    "arun",
    "astatus",
    "await_apps",
    "delete",
    "export",
    "plan",
    "run",
    "status",
    "wait",
]
