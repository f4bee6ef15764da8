"""What the command line shows: a progress bar in each command's words, questions where
a user sees them, summaries with true times, and help that lists what applies."""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime

from bulk import cli

from .helpers import cli_env, manifest, run_cli


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a user's shell is."""

    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch, tmp_path, env, *args, answer=None):
    """The real CLI with stdout and stderr on a terminal (stdin too, with ``answer``)."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("RUNGEN_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if answer is not None:
        monkeypatch.setattr("sys.stdin", Terminal(answer))
    out, err = Terminal(), Terminal()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def last_bar(stderr):
    bars = [part for part in re.split(r"[\r\n]", stderr) if "apps:" in part]
    return bars[-1]


def test_the_progress_bar_counts_each_status_in_the_command_s_words(
    monkeypatch, tmp_path, emulator_thread
):
    manifest(tmp_path, 3, digits=1)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        first = on_terminal(monkeypatch, tmp_path, env, "create", "m.csv", "-o", "a.csv")
        again = on_terminal(monkeypatch, tmp_path, env, "create", "m.csv", "-o", "b.csv")
        gone = on_terminal(monkeypatch, tmp_path, env, "delete", "a.csv", "--yes")
        left = emu.names()
    assert [first[0], again[0], gone[0]] == [0, 0, 0]
    assert "created=3, failed=0" in last_bar(first[2])
    assert "exists=3, failed=0" in last_bar(again[2]) and "created" not in last_bar(again[2])
    assert "deleted=3, failed=0" in last_bar(gone[2]) and "created" not in last_bar(gone[2])
    assert left == []


def test_delete_asks_on_stderr_so_that_stdout_can_go_to_a_file(
    monkeypatch, tmp_path, emulator_thread
):
    manifest(tmp_path, 2, digits=1)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", cwd=tmp_path, env=env).returncode == 0
        code, out, err = on_terminal(
            monkeypatch, tmp_path, env, "delete", "m.results.csv", "-q", answer="y\n"
        )
        left = emu.names()
    assert code == 0 and left == []
    assert "Delete 2 apps? This cannot be undone. [y/N]" in err
    assert "Delete 2 apps?" not in out


def test_a_refused_run_s_summary_has_its_true_start_and_end(tmp_path, emulator_thread):
    manifest(tmp_path, 2, active_workers=1, digits=1)
    before = datetime.now(UTC)
    with emulator_thread() as emu:
        args = ("create", "m.csv", "--max-active-workers", "1", "--summary-json", "s.json")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        posts = emu.record.posts
    after = datetime.now(UTC)
    assert done.returncode == 2 and posts == 0, done.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    started = datetime.fromisoformat(summary["started_at"])
    finished = datetime.fromisoformat(summary["finished_at"])
    assert before <= started < finished <= after
    assert summary["duration_seconds"] == (finished - started).total_seconds()


def help_of(*command):
    return run_cli(*command, "--help", cwd=os.getcwd()).stdout


def test_help_lists_what_applies_to_each_command():
    serve = help_of("serve")
    assert "RUNGEN_API_KEY" not in serve and "environment:" not in serve
    assert re.findall(r"^  (\d+) ", serve.split("exit status:")[1], re.M) == ["0", "2"]
    for command in ("create", "apply", "delete"):
        text = help_of(command)
        assert "RUNGEN_API_KEY" in text
        codes = re.findall(r"^  (\d+) ", text.split("exit status:")[1], re.M)
        assert codes == ["0", "1", "2", "3", "130"], command
    plan = help_of("plan").split("exit status:")[1]
    assert "  4    with --detailed-exitcode" in plan
