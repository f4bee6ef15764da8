"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from importlib import metadata as _metadata

from ._config import ApiKey
from ._control import RunControl
from ._errors import ERROR_KINDS, BulkError, ConfigError, Interrupted, ManifestError, UsageError
from ._options import RunOptions
from ._report import Report
from ._results import COLUMNS, STATUSES
from ._runner import arun
from ._sync import run

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("rungen-bulk")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "COLUMNS",
    "ERROR_KINDS",
    "STATUSES",
    "ApiKey",
    "BulkError",
    "ConfigError",
    "Interrupted",
    "ManifestError",
    "Report",
    "RunControl",
    "RunOptions",
    "UsageError",
    "__version__",
    "arun",
    "run",
]
