"""Unattended runs: exit statuses a scheduler can act on, logs with times, and the fixes
a new user's trial asked for."""

from __future__ import annotations

import functools
import json
import time

import anyio
import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults

from . import helpers
from .helpers import KEY, URL, cli_env, run_cli

manifest = functools.partial(helpers.manifest, digits=1)


@pytest.mark.parametrize(
    "case, expected",
    # "service down" gives 3 as well: test_faults.test_service_down_trips_the_retry_budget
    [("ok", 0), ("invalid", 1), ("usage", 2), ("key", 3), ("plan-key", 3)],
)
def test_each_outcome_has_its_exit_status(tmp_path, emulator_thread, case, expected):
    manifest(
        tmp_path, 4, gpu_tier=["BASIC", "NOPE", "BASIC", "BASIC"] if case == "invalid" else "BASIC"
    )
    with emulator_thread() as emu:
        env = (
            cli_env(emu.url, RUNGEN_API_KEY="wrong-key-1234") if "key" in case else cli_env(emu.url)
        )
        command = {"usage": ["create", "missing.csv"], "plan-key": ["plan", "m.csv"]}
        args = command.get(case, ["create", "m.csv", "--max-retries", "2"])
        done = run_cli(*args, cwd=tmp_path, env=env)
    assert done.returncode == expected, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "wrong-key-1234" not in done.stdout + done.stderr


def test_json_log_lines_carry_a_utc_time_and_one_line_per_attempt(tmp_path, emulator_thread):
    manifest(tmp_path, 3)
    faults = Faults(rate_limit=20, burst=1, retry_after="none")
    with emulator_thread(faults) as emu:
        args = ("create", "m.csv", "--log-format", "json", "-vv", "--log-file", "log.jsonl")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        posts = emu.record.posts
    assert done.returncode == 0 and done.stderr == ""  # the log went to the file
    text = (tmp_path / "log.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert all(line["ts"].endswith("Z") and "T" in line["ts"] for line in lines)
    attempts = [line for line in lines if line["message"] == "attempt"]
    assert len(attempts) == posts
    assert set(attempts[0]) >= {"row", "name", "status", "kind", "attempt", "latency"}
    assert any(line["message"].startswith("pacer") for line in lines)  # -vv, after a 429
    (listing,) = [line for line in lines if line["message"] == "listing"]  # the GET
    assert listing["status"] == 200 and listing["apps"] == 0
    assert KEY not in text


def test_text_log_lines_start_with_their_utc_time(tmp_path, emulator_thread):
    manifest(tmp_path, 2, gpu_tier=["BASIC", "NOPE"])
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", "--max-retries", "-1", cwd=tmp_path, env=cli_env(emu.url))
    (line,) = done.stderr.splitlines()
    stamp, message = line.split(" ", 1)
    assert stamp.endswith("Z") and time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    assert message.startswith("Error: ")


@pytest.mark.anyio
async def test_waiting_for_a_killed_runs_requests_stops_on_ctrl_c():
    control = bulk.RunControl()
    started = time.monotonic()
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(control.pause, 30)
        await anyio.sleep(0.05)
        control.interrupt()
    assert time.monotonic() - started < 5


def test_a_second_app_of_a_name_on_purpose_is_made_even_where_keys_are_honoured(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 1)
    with emulator_thread() as emu:  # honours Idempotency-Key
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", cwd=tmp_path, env=env).returncode == 0
        args = ("create", "m.csv", "--no-skip-existing", "-o", "again.csv")
        assert run_cli(*args, cwd=tmp_path, env=env).returncode == 0
        assert emu.record.created[("user_emulated", "app-0")] == 2
    first = pd.read_csv(tmp_path / "m.results.csv").app_id[0]
    second = pd.read_csv(tmp_path / "again.csv").app_id[0]
    assert first != second


@pytest.mark.parametrize(
    "args, message",
    [
        (["--base-url", "http://user:secret-key-1234@127.0.0.1:1"], "must be a plain address"),
        (["--base-url", "https://api.example.com/?key=secret-key-1234"], "must be a plain address"),
        (["--team-id", " "], "--team-id (team_id=) is empty"),
    ],
)
def test_unusable_settings_are_usage_errors_that_show_no_secret(tmp_path, args, message):
    manifest(tmp_path, 1)
    done = run_cli("create", "m.csv", *args, cwd=tmp_path, env=cli_env("http://127.0.0.1:1"))
    assert done.returncode == 2 and message in done.stderr
    assert "secret-key-1234" not in done.stderr + done.stdout


def test_serve_refuses_a_port_out_of_range_without_a_traceback(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        from bulk.cli import main

        main(["serve", "--port", "99999"])
    assert stopped.value.code == 2


def test_a_list_or_an_object_in_a_text_cell_is_a_row_error():
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "gpu_tier": "BASIC",
            "model_url": URL,
            "description": [{"k": 1}, ["x"]],
        }
    )
    results = bulk.run(frame, dry_run=True, progress=False)
    assert results.status.tolist() == ["invalid", "invalid"]
    assert results.error[0] == "row 1: description: must be text, got {'k': 1}"


@pytest.mark.parametrize(
    "command", ["create", "plan", "apply", "delete", "status", "export", "wait", "serve"]
)
def test_every_help_screen_stands_alone(capsys, command):
    from bulk.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    for part in ("examples:", "files written", "exit status:"):
        assert part in text, part
    # What applies to each command: test_edges_cli.test_help_lists_what_applies_to_each_command
    for code in ("0 ", "2 "):
        assert f"\n  {code}" in text
    assert "Step 7" not in text


def test_version_names_the_tool_and_errors_use_the_flags_spelling(tmp_path, capsys):
    from bulk.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"bulk {bulk.__version__}"
    manifest(tmp_path, 1)
    done = run_cli("create", "m.csv", "--max-retries", "-2", cwd=tmp_path)
    assert done.returncode == 2
    assert "Error: --max-retries must be a whole number 0 or more; got -2" in done.stderr


def test_a_run_after_a_rollback_creates_the_apps_again_where_keys_are_remembered(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 2)
    with emulator_thread() as emu:  # it remembers every Idempotency-Key it saw
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", cwd=tmp_path, env=env).returncode == 0
        assert run_cli("delete", "m.results.csv", "--yes", cwd=tmp_path, env=env).returncode == 0
        again = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        held = sorted(emu.names())
    assert again.returncode == 0 and held == ["app-0", "app-1"]  # not phantom ids
    assert emu.record.replays == 0


def test_a_second_run_of_the_same_journal_at_once_is_refused(tmp_path):
    from bulk._running.journal import Journal

    path = tmp_path / "r.journal.jsonl"
    first = Journal(path, resume=False)
    try:
        with pytest.raises(bulk.UsageError, match="another run is using the journal"):
            Journal(path, resume=False)
    finally:
        first.close()
    Journal(path, resume=False).close()  # free again once the first one ends


def test_a_rollback_of_results_without_teams_needs_the_team(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("row,name,status,app_id\n1,a,created,app_1\n")
    done = run_cli("delete", "old.csv", "--yes", cwd=tmp_path, env=cli_env("http://127.0.0.1:1"))
    assert done.returncode == 2 and "has no team_id column" in done.stderr


def test_a_key_with_a_line_break_is_a_usage_error_that_does_not_show_it(tmp_path):
    manifest(tmp_path, 1)
    env = cli_env("http://127.0.0.1:1", RUNGEN_API_KEY="secret-key-1234\nX-Evil: 1")
    done = run_cli("create", "m.csv", cwd=tmp_path, env=env)
    assert done.returncode == 2 and "control character" in done.stderr
    assert "secret-key-1234" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.anyio
async def test_the_notebook_emulator_works_from_a_running_loop(tmp_path):
    frame = pd.DataFrame({"name": ["a", "b"], "gpu_tier": "BASIC", "model_url": URL})
    with bulk.Emulator(rate_limit=100) as emu:
        results = await bulk.arun(frame, base_url=emu.url, api_key=emu.api_key, progress=False)
        held = emu.apps()
        assert emu.state.faults.rate_limit == 100
    assert sorted(a["name"] for a in held) == ["a", "b"]
    assert dict(zip(results.name, results.app_id, strict=True)) == {
        a["name"]: a["id"] for a in held
    }


def test_no_tqdm_warning_in_a_notebook_without_ipywidgets(monkeypatch, recwarn):
    import importlib.util
    import sys
    import types

    from bulk._output.progress import Progress
    from bulk._output.results import Result

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real(name, *a),
    )
    bar = Progress(2, enabled=True)
    bar.add(Result(1, "a", "created"))
    bar.close()
    assert not [w for w in recwarn if "IProgress" in str(w.message)]


def test_two_runs_writing_to_the_same_team_at_once_are_refused(tmp_path, emulator_thread):
    from bulk._running.journal import lock_teams

    manifest(tmp_path, 2)
    with emulator_thread() as emu, lock_teams(emu.url, [""]):  # a run in progress
        done = run_cli("create", "m.csv", "-o", "other.csv", cwd=tmp_path, env=cli_env(emu.url))
        assert emu.record.posts == 0
    assert done.returncode == 2 and "another run is writing to your own apps" in done.stderr


def test_a_summary_is_written_for_a_run_that_could_not_run(tmp_path):
    last_night = {"command": "python -m bulk create missing.csv", "exit_code": 0}
    (tmp_path / "s.json").write_text(json.dumps(last_night))
    env = cli_env("http://127.0.0.1:1")
    done = run_cli("create", "missing.csv", "--summary-json", "s.json", cwd=tmp_path, env=env)
    summary = json.loads((tmp_path / "s.json").read_text())
    assert done.returncode == summary["exit_code"] == 2
    assert "not found" in summary["error"] and summary["finished_at"].endswith("+00:00")


def test_an_unlimited_rate_is_null_in_json_logs():
    import logging

    from bulk._shared.logs import _Json

    record = logging.LogRecord("bulk", 5, "", 0, "pacer rate", (), None)
    record.fields = {"rate_from": float("inf"), "rate_to": 5.0}
    assert json.loads(_Json().format(record))["rate_from"] is None


def test_the_notebook_emulator_says_when_it_is_not_running():
    with bulk.Emulator() as emu:
        pass
    with pytest.raises(RuntimeError, match="inside its 'with' block"):
        emu.apps()


def test_an_interrupted_resume_keeps_the_ids_the_stopped_run_got(tmp_path, emulator_thread):
    path = manifest(tmp_path, 2)
    out = tmp_path / "m.results.csv"
    with emulator_thread() as emu:
        first = bulk.run(path, base_url=emu.url, api_key=KEY, output=out, progress=False)
        control = bulk.RunControl()
        control.interrupt()  # Ctrl-C before the resume could look anything up
        with pytest.raises(bulk.Interrupted) as stopped:
            bulk.run(
                path,
                base_url=emu.url,
                api_key=KEY,
                output=out,
                resume=True,
                control=control,
                progress=False,
            )
    results = stopped.value.results
    assert results.status.tolist() == ["created", "created"]
    assert results.app_id.tolist() == first.app_id.tolist()  # a rollback still finds them
