"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from importlib import metadata as _metadata

from ._operations.apply import aapply, apply
from ._operations.create import arun, run
from ._operations.delete import DeleteOptions, adelete, delete
from ._operations.export import aexport, export
from ._operations.plan import PlanTotals, aplan, plan
from ._operations.status import STATUS_COLUMNS, LiveOptions, astatus, status
from ._operations.wait import WaitOptions, await_apps, wait
from ._output.report import Report
from ._output.results import COLUMNS, STATUSES
from ._running.control import RunControl
from ._running.options import RunOptions
from ._shared.config import ApiKey
from ._shared.errors import (
    ERROR_KINDS,
    BulkError,
    ConfigError,
    Interrupted,
    ManifestError,
    ServiceError,
    UsageError,
)
from .emulator._background import Emulator

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
    "PlanTotals",
    "Report",
    "RunControl",
    "RunOptions",
    "ServiceError",
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
