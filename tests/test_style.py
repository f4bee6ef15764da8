"""ruff keeps the code formatted and linted; the suite fails if it is not."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from .helpers import ROOT


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="pip install '.[test]'")
@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
