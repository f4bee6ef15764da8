"""The README and the parser agree: every flag a command's help prints is in the README."""

from __future__ import annotations

import re

import pytest

from bulk.cli import main

from .helpers import ROOT

COMMANDS = [
    [],
    *([c] for c in ("create", "plan", "apply", "delete", "status", "export", "wait", "serve")),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_flag_in_the_help_is_in_the_readme(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", capsys.readouterr().out))
    readme = ROOT.joinpath("README.md").read_text()
    missing = sorted(f for f in flags if not re.search(rf"{re.escape(f)}(?![\w-])", readme))
    assert len(flags) > 1 and missing == []


def test_every_command_is_checked():
    import argparse

    from bulk.cli import parser

    top = parser()
    commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    assert {c for [c] in COMMANDS[1:]} == set(commands.choices)
