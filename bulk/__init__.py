"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from importlib import metadata as _metadata

from ._apply import aapply, apply
from ._config import ApiKey
from ._control import RunControl
from ._delete import DeleteOptions, adelete, delete
from ._errors import (
    ERROR_KINDS,
    BulkError,
    ConfigError,
    Interrupted,
    ManifestError,
    ServiceError,
    UsageError,
)
from ._export import aexport, export
from ._options import RunOptions
from ._plan import PlanTotals, aplan, plan
from ._report import Report
from ._results import COLUMNS, STATUSES
from ._runner import arun
from ._status import STATUS_COLUMNS, LiveOptions, astatus, status
from ._sync import run
from ._wait import WaitOptions, await_apps, wait
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
