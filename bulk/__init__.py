"""bulk: create many RunGen.AI apps from one manifest file, each exactly once.

import bulk
results = bulk.run("apps.csv", output="apps.results.csv")
"""

from .config import ApiKey
from .control import RunControl
from .errors import BulkError, ConfigError, Interrupted, ManifestError, UsageError
from .runner import arun
from .sync import run

__version__ = "0.1.0"

__all__ = [
    "ApiKey",
    "BulkError",
    "ConfigError",
    "Interrupted",
    "ManifestError",
    "RunControl",
    "UsageError",
    "__version__",
    "arun",
    "run",
]
