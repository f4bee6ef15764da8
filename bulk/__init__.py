"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from importlib import metadata as _metadata

from .config import ApiKey
from .control import RunControl
from .errors import BulkError, ConfigError, Interrupted, ManifestError, UsageError
from .report import Report
from .runner import arun
from .sync import run

try:  # the version is written once, in pyproject.toml
    __version__ = _metadata.version("rungen-bulk")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "ApiKey",
    "BulkError",
    "ConfigError",
    "Interrupted",
    "ManifestError",
    "Report",
    "RunControl",
    "UsageError",
    "__version__",
    "arun",
    "run",
]
