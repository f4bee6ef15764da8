"""A key typed in the wrong place of the command line is never printed back: argparse's
errors name the unknown flags, never the values, nor a stray argument's text."""

from __future__ import annotations

import pytest

from .helpers import cli_env, manifest, run_cli

SECRET = "sk-live-7d1e2f9a"


@pytest.mark.parametrize(
    "typed",
    [
        ("--api", SECRET),
        ("--apikey", SECRET),
        ("--api-key-fil", SECRET),
        ("-k", SECRET),
        (f"-k{SECRET}",),
        (f"--token={SECRET}",),
        (SECRET,),  # the key as a stray positional
        ("--log-format", SECRET),
        ("--rate", SECRET),
        ("--delimiter", SECRET),
    ],
)
def test_a_mistyped_flag_never_echoes_the_key(tmp_path, emulator_thread, typed):
    manifest(tmp_path, 2)
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", *typed, cwd=tmp_path, env=cli_env(emu.url))
        sent = emu.record.posts
    assert done.returncode == 2 and sent == 0
    assert SECRET not in done.stderr + done.stdout
    assert not (tmp_path / "m.results.csv").exists()


def test_the_error_still_names_the_unknown_flag(tmp_path):
    manifest(tmp_path, 1)
    done = run_cli("create", "m.csv", "--api", SECRET, f"--token={SECRET}", cwd=tmp_path)
    assert "unrecognized arguments: --api *** --token=*** (values are not shown)" in done.stderr


def test_a_mistyped_command_lists_the_commands_without_echoing_it(tmp_path):
    done = run_cli(SECRET, "m.csv", cwd=tmp_path)
    assert done.returncode == 2 and SECRET not in done.stderr
    assert "invalid choice (choose from 'create'" in done.stderr
