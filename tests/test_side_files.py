"""--summary-json and --log-file never replace or grow what the user gave us: the same
guards as -o, checked before anything is sent."""

from __future__ import annotations

import json

import pytest

from .helpers import KEY, cli_env, manifest, run_cli


@pytest.mark.parametrize(
    "flag, target",
    [
        ("--summary-json", "k.txt"),  # the only copy of the key
        ("--summary-json", "m.results.csv"),  # the results of an earlier run
        ("--summary-json", "mydata.csv"),  # a file of the user's
        ("--summary-json", "m.csv"),
        ("--log-file", "m.csv"),
        ("--log-file", "k.txt"),
        ("--log-file", "m.results.csv"),
    ],
)
def test_a_side_file_never_replaces_an_input_or_a_user_file(
    tmp_path, emulator_thread, flag, target
):
    manifest(tmp_path, 2)
    (tmp_path / "k.txt").write_text(KEY + "\n")
    (tmp_path / "mydata.csv").write_text("a,b\n1,2\n")
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        del env["RUNGEN_API_KEY"]
        assert (
            run_cli("create", "m.csv", "--api-key-file", "k.txt", cwd=tmp_path, env=env).returncode
            == 0
        )
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        posts = emu.record.posts
        args = ("create", "m.csv", "--api-key-file", "k.txt", flag, target)
        done = run_cli(*args, cwd=tmp_path, env=env)
        sent = emu.record.posts - posts
    assert done.returncode == 2 and sent == 0
    assert flag in done.stderr and KEY not in done.stderr + done.stdout
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_summary_replaces_an_earlier_summary_and_a_log_grows_its_own_file(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 2)
    (tmp_path / "run.log").write_text("earlier\n")
    with emulator_thread() as emu:
        args = ("create", "m.csv", "--summary-json", "s.json", "--log-file", "run.log")
        first = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        again = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
    assert [first.returncode, again.returncode] == [0, 0]
    assert json.loads((tmp_path / "s.json").read_text())["counts"]["exists"] == 2
    assert (tmp_path / "run.log").read_text().startswith("earlier\n")
