"""The commands' face: the list of commands, and the conventions every new command keeps
(log lines, --summary-json, exit statuses)."""

from __future__ import annotations

import json

from bulk import cli
from bulk._cli.serve import _faults

from .helpers import KEY, cli_env, run_cli


def test_bulk_alone_lists_every_command_with_one_line(tmp_path):
    done = run_cli(cwd=tmp_path)
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")]
    assert listed == ["create", "plan", "apply", "delete", "status", "export", "wait", "serve"]
    assert all(len(line.split()) > 2 for line in done.stdout.splitlines() if line.startswith("  "))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_serve_takes_the_status_flags():
    args = cli.parser().parse_args(
        [
            "serve",
            "--start-seconds",
            "3",
            "--never-start",
            "a",
            "--never-start",
            "b",
            "--fail-app",
            "c",
        ]
    )
    faults = _faults(args)
    assert faults.start_seconds == 3 and faults.never_start == ("a", "b")
    assert faults.fail == ("c",)


def test_new_commands_reject_abbreviations(tmp_path):
    for command in ("status", "export", "wait"):
        done = run_cli(command, "--summ", "s.json", "-o", "o.csv", "x.csv", cwd=tmp_path)
        assert done.returncode == 2 and "unrecognized arguments: --summ" in done.stderr


def test_new_commands_keep_the_summary_and_exit_conventions(tmp_path, emulator_thread):
    missing = run_cli("wait", "nope.csv", "--summary-json", "w.json", cwd=tmp_path)
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert json.loads((tmp_path / "w.json").read_text())["exit_code"] == 2
    with emulator_thread() as emu:
        env = {**cli_env(emu.url), "RUNGEN_API_KEY": "wrong-key-123"}
        refused = run_cli(
            "status",
            "--team-id",
            "t1",
            "--summary-json",
            "s.json",
            "--log-format",
            "json",
            cwd=tmp_path,
            env=env,
        )
        exported = run_cli("export", "-o", "e.csv", cwd=tmp_path, env=env)
        (tmp_path / "r.csv").write_text(
            "row,name,status,app_id,http_status,attempts,error,error_kind,team_id\n"
            "1,a,created,app_1,201,1,,,t1\n"
        )
        waited = run_cli("wait", "r.csv", "-q", cwd=tmp_path, env=env)
    assert refused.returncode == exported.returncode == waited.returncode == 3
    assert "the key was refused while waiting" in waited.stderr
    line = json.loads(refused.stderr.strip().splitlines()[-1])
    assert line["level"] == "error" and "could not be listed" in line["message"]
    assert json.loads((tmp_path / "s.json").read_text())["exit_code"] == 3
    assert KEY not in refused.stderr and not (tmp_path / "e.csv").exists()
