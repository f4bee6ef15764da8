"""The command line starts at once: printing a version or a help screen, and ``import
bulk``, load none of pandas, aiohttp and pyarrow (benchmarks/startup.py has the times)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "aiohttp", "pyarrow")
SCREENS = [
    ["--version"],
    ["--help"],
    *(
        [command, "--help"]
        for command in ("create", "plan", "apply", "delete", "serve", "status", "export", "wait")
    ),
]


def loaded(code: str) -> list[str]:
    """The heavy libraries a fresh interpreter holds after ``code``."""
    check = (
        f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.subprocess
@pytest.mark.parametrize("argv", SCREENS, ids=" ".join)
def test_python_m_bulk_prints_its_screens_without_the_heavy_libraries(argv):
    code = (  # what `python -m bulk ARGV` runs, and then a look at what it loaded
        "import runpy, sys\n"
        f"sys.argv = ['bulk', *{argv!r}]\n"
        "try:\n    runpy.run_module('bulk', run_name='__main__')\nexcept SystemExit:\n    pass"
    )
    assert loaded(code) == []


@pytest.mark.subprocess
def test_import_bulk_is_cheap_and_the_face_loads_on_first_use():
    assert loaded("import bulk\nassert 'run' in dir(bulk)") == []
    assert loaded("import bulk\nbulk.run") == ["pandas", "aiohttp", "pyarrow"]
    assert loaded("import bulk\nbulk.UsageError, bulk.ApiKey, bulk.RunOptions") == []
