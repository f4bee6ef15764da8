"""End to end: the real CLI and library against the emulator on a loopback socket."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import termios

import pandas as pd
import pytest

import bulk
from bulk._output.results import COLUMNS
from bulk.emulator import serve

from .helpers import KEY, SAMPLES, URL, build_rows, cli_env, manifest, read_manifest, run_cli

INVALID_SAMPLE_ROWS = [7, 12, 16, 20, 22]


def no_key_anywhere(*texts):
    for text in texts:
        assert KEY not in text


SAMPLE_FILES = ("apps.csv", "apps.parquet", "apps.jsonl", "apps_no_loras.csv", "loras.csv")


@pytest.fixture
def samples(tmp_path):
    """The sample manifests, by name: never what a run may have left in input_samples/."""
    for name in SAMPLE_FILES:
        shutil.copy(SAMPLES / name, tmp_path)
    return tmp_path


def test_cli_creates_the_sample_apps_and_explains_the_invalid_rows(samples, emulator_thread):
    with emulator_thread() as emu:
        done = run_cli("create", "apps.csv", cwd=samples, env=cli_env(emu.url))
        record = emu.record
        apps = {a["name"]: a for a in emu.apps["user_emulated"].values()}
    assert done.returncode == 1, done.stderr  # the sample has invalid rows on purpose
    results = pd.read_csv(samples / "apps.results.csv", dtype=str, keep_default_na=False)
    assert tuple(results.columns) == COLUMNS  # the names themselves: tests/test_api.py
    assert results["row"].tolist() == [str(i) for i in range(1, 26)]
    invalid = results[results.status == "invalid"]
    assert invalid["row"].astype(int).tolist() == INVALID_SAMPLE_ROWS
    assert set(invalid.error_kind) == {"validation"} and all(invalid.app_id == "")
    created = results[results.status == "created"]
    assert len(created) == 20 and record.posts == 20
    assert {r.name: r.app_id for r in created.itertuples()} == {n: a["id"] for n, a in apps.items()}
    # What the server received is exactly the bodies the manifest asked for, once each.
    expected = [r.body for r in build_rows(read_manifest(samples / "apps.csv").records) if r.body]
    assert sorted(record.bodies, key=json.dumps) == sorted(expected, key=json.dumps)
    assert record.duplicates() == {}
    assert all(h["Content-Type"] == "application/json" for h in record.headers)
    assert "row 7" in done.stdout and "app_" in done.stdout and "20 created" in done.stdout
    no_key_anywhere(
        done.stdout,
        done.stderr,
        (samples / "apps.results.csv").read_text(),
        (samples / "apps.results.journal.jsonl").read_text(),
    )


def test_cli_emulator_mode_needs_no_account(samples):
    done = run_cli(
        "create",
        "apps.parquet",
        "--emulator",
        "-o",
        "out.jsonl",
        cwd=samples,
        env={k: v for k, v in cli_env("http://unused").items() if not k.startswith("RUNGEN")},
    )
    assert done.returncode == 1, done.stderr
    results = pd.read_json(samples / "out.jsonl", lines=True, dtype=False)
    assert (results.status == "created").sum() == 20
    assert "emulator: serving the RunGen.AI API at http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_exit_0_when_every_row_is_created(tmp_path, emulator_thread):
    path = manifest(tmp_path, 12)
    with emulator_thread() as emu:
        done = run_cli(
            "create",
            str(path),
            "-o",
            "r.parquet",
            "--concurrency",
            "3",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        assert emu.record.posts == 12
    assert done.returncode == 0, done.stderr
    results = pd.read_parquet(tmp_path / "r.parquet")
    assert (results.status == "created").all() and results.app_id.str.startswith("app_").all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.csv"], "Error: manifest 'missing.csv' not found"),
        (["m.xls"], "Error: manifest 'm.xls': unknown extension '.xls'"),
        (["m.xlsx"], "Error: manifest 'm.xlsx' cannot be read as xlsx"),
        (["cols.csv"], "Error: manifest 'cols.csv' has no 'gpu_tier' column"),
        (
            ["m.csv", "--concurrency", "0"],
            "Error: --concurrency must be a whole number 1 or more; got 0",
        ),
        (["m.csv", "--rate", "-2"], "Error: --rate must be requests per second"),
        (["m.csv", "-o", "r.xlsx"], "Error: output 'r.xlsx': unknown extension '.xlsx'"),
        (["m.csv", "--base-url", "http://api.example.com"], "is plain http"),
        (["m.csv", "--api-key-file", "nokey"], "the file named by --api-key-file does not exist"),
        (["m.csv", "--resume"], "nothing to resume"),
    ],
)
def test_exit_2_for_usage_errors_and_unusable_manifests(tmp_path, args, message):
    manifest(tmp_path, 2)
    (tmp_path / "m.xlsx").write_text("x")
    (tmp_path / "m.xls").write_text("x")
    (tmp_path / "cols.csv").write_text("name,model_url\na,b\n")
    done = run_cli("create", *args, cwd=tmp_path, env=cli_env("http://127.0.0.1:9"))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_exit_2_without_an_api_key(tmp_path):
    manifest(tmp_path, 1)
    env = {k: v for k, v in cli_env("http://127.0.0.1:9").items() if k != "RUNGEN_API_KEY"}
    done = run_cli("create", "m.csv", cwd=tmp_path, env=env)
    assert (
        done.returncode == 2
        and "no API key: set the environment variable RUNGEN_API_KEY" in done.stderr
    )


def test_api_key_from_a_file_and_team_for_all_rows_with_column_override(tmp_path, emulator_thread):
    path = manifest(tmp_path, 3, team_id=["", "t-col", ""])
    (tmp_path / "key.txt").write_text(KEY + "\n")
    with emulator_thread() as emu:
        env = {k: v for k, v in cli_env(emu.url).items() if k != "RUNGEN_API_KEY"}
        done = run_cli(
            "create",
            str(path),
            "--api-key-file",
            "key.txt",
            "--team-id",
            "t-all",
            cwd=tmp_path,
            env=env,
        )
        assert sorted(emu.names("t-all")) == ["app-000", "app-002"]
        assert emu.names("t-col") == ["app-001"]
        assert sorted(h.get("x-team-id") for h in emu.record.headers) == ["t-all", "t-all", "t-col"]
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert results.team_id.tolist() == ["t-all", "t-col", "t-all"]  # what delete needs


def test_dry_run_sends_nothing_and_reports_valid_rows(samples, emulator_thread):
    with emulator_thread() as emu:
        done = run_cli("create", "apps.jsonl", "--dry-run", cwd=samples, env=cli_env(emu.url))
        assert emu.record.posts == 0 and emu.record.gets == 0
    assert done.returncode == 1
    assert not (samples / "apps.results.csv").exists()  # a dry run has a file of its own
    results = pd.read_csv(samples / "apps.dry-run.csv")
    assert (results.status == "valid").sum() == 20 and (results.status == "invalid").sum() == 5
    assert "first body (of 20 to send):" in done.stdout and '"gpu_tier": "STANDARD"' in done.stdout
    no_key_anywhere(done.stdout, done.stderr)


def test_dry_run_exit_0_when_all_valid_and_needs_no_key(tmp_path):
    manifest(tmp_path, 3)
    env = {k: v for k, v in cli_env("http://127.0.0.1:9").items() if k != "RUNGEN_API_KEY"}
    done = run_cli("create", "m.csv", "--dry-run", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr


def test_wrong_key_stops_the_run_at_once(tmp_path, emulator_thread):
    path = manifest(tmp_path, 60)
    with emulator_thread() as emu:
        env = cli_env(emu.url, RUNGEN_API_KEY="wrong-key-0000")
        done = run_cli("create", str(path), "--concurrency", "4", cwd=tmp_path, env=env)
        posts = emu.record.posts
    assert done.returncode == 3 and posts <= 4  # stopped early by the server
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert (results.status == "failed").sum() == posts
    skipped = results[results.status == "skipped"]
    assert len(skipped) == 60 - posts
    assert skipped.error.str.startswith("not sent: the API key was refused (HTTP 403").all()
    assert "stopped early: the API key was refused" in done.stderr
    assert "wrong-key-0000" not in done.stdout + done.stderr + results.to_csv()


def test_rate_cap_holds_end_to_end(tmp_path, emulator_thread):
    path = manifest(tmp_path, 30)
    with emulator_thread() as emu:
        done = run_cli("create", str(path), "--rate", "15", cwd=tmp_path, env=cli_env(emu.url))
        times = sorted(emu.record.post_times)
    assert done.returncode == 0 and len(times) == 30
    # A slow machine only spreads the requests further; unpaced, 30 arrive in a blink.
    assert times[-1] - times[0] >= (30 - 3) / 15


@pytest.mark.anyio
async def test_library_arun_with_a_dataframe_and_loras_table(tmp_path):
    frame = pd.DataFrame(
        {"name": ["a", "b"], "gpu_tier": ["basic", "STANDARD"], "model_url": [URL, URL]}
    )
    table = pd.DataFrame(
        [
            {
                "app": "b",
                "id": 7,
                "versionId": "0070",
                "name": "L",
                "weight": 1,
                "downloadUrl": "https://civitai.com/api/download/models/70",
            }
        ]
    )
    async with serve(api_key=KEY) as emu:
        result = await bulk.arun(frame, base_url=emu.url, api_key=KEY, loras=table, progress=False)
        (lora,) = emu.record.bodies[1]["workflow"]["tools"]["loras"]
    assert result["status"].tolist() == ["created", "created"]
    assert (lora["id"], lora["versionId"]) == ("7", "0070")
    assert result.attrs["output"] is None and not list(tmp_path.iterdir())


@pytest.mark.anyio
async def test_run_inside_a_running_event_loop(tmp_path, emulator_thread):
    """As in a Jupyter cell: bulk.run called while this thread's loop is running."""
    path = manifest(tmp_path, 4)
    with emulator_thread() as emu:
        result = bulk.run(
            str(path), base_url=emu.url, api_key=KEY, output=tmp_path / "r.csv", progress=False
        )
        assert emu.record.posts == 4
    assert (result.status == "created").all()
    assert pd.read_csv(tmp_path / "r.csv")["app_id"].tolist() == result["app_id"].tolist()


def test_run_from_plain_sync_code_with_envelope_answers(tmp_path, emulator_thread):
    path = manifest(tmp_path, 3, name="m.jsonl")
    pd.read_csv(path).to_json(path, orient="records", lines=True)
    with emulator_thread() as emu:
        emu.faults.envelope = True
        result = bulk.run(path, base_url=emu.url, api_key=KEY, progress=False)
        ids = sorted(a["id"] for a in emu.apps["user_emulated"].values())
    assert sorted(result.app_id) == ids


def test_results_keep_manifest_order_under_concurrency(tmp_path, emulator_thread):
    path = manifest(tmp_path, 40)
    with emulator_thread() as emu:
        emu.faults.latency = 0.01
        result = bulk.run(path, base_url=emu.url, api_key=KEY, concurrency=16, progress=False)
    assert result["row"].tolist() == list(range(1, 41))
    assert result["name"].tolist() == [f"app-{i:03d}" for i in range(40)]


def test_progress_bar_hidden_when_stderr_is_not_a_terminal(tmp_path, emulator_thread):
    path = manifest(tmp_path, 3)
    with emulator_thread() as emu:
        done = run_cli("create", str(path), cwd=tmp_path, env=cli_env(emu.url))
    assert "apps:" not in done.stderr and "it/s" not in done.stderr and "app/s" not in done.stderr
    assert "3 created" in done.stdout and "4 requests (3 POST, 1 GET) in" in done.stdout


@pytest.mark.parametrize("quiet", [False, True])
@pytest.mark.subprocess
def test_progress_bar_shows_on_a_terminal_unless_quiet(tmp_path, emulator_thread, quiet):
    pty = pytest.importorskip("pty")
    path = manifest(tmp_path, 3)
    leader, follower = pty.openpty()
    # A terminal of 24 rows and 100 columns: a bar needs a width to draw in.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [sys.executable, "-m", "bulk", "create", str(path)] + (["--quiet"] if quiet else [])
    with emulator_thread() as emu:
        proc = subprocess.run(
            command,
            cwd=tmp_path,
            env=cli_env(emu.url),
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=60,
            check=False,
        )
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the terminal's other end is gone
        while chunk := os.read(leader, 4096):
            shown += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert (b"3/3" in shown and b"created=3" in shown) is not quiet


@pytest.mark.subprocess
def test_console_script_is_installed():
    script = shutil.which("rungen-bulk", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the project is not installed in this environment (pip install .)")
    done = subprocess.run([script, "create", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--max-retries" in done.stdout


@pytest.mark.anyio
async def test_rows_stream_into_a_pool_over_pooled_connections(tmp_path):
    """No task per row up front, and one pooled session: few tasks, few sockets."""
    import asyncio

    import anyio

    path = manifest(tmp_path, 300)
    most = 0

    async def watch():
        nonlocal most
        while True:
            most = max(most, len(asyncio.all_tasks()))
            await anyio.sleep(0.001)

    async with serve(api_key=KEY) as emu, anyio.create_task_group() as tg:
        tg.start_soon(watch)
        result = await bulk.arun(path, base_url=emu.url, api_key=KEY, concurrency=4, progress=False)
        tg.cancel_scope.cancel()
    assert (result.status == "created").all() and emu.record.posts == 300
    assert most < 40  # 4 workers, their server handlers and the run's own few tasks
    assert len(emu.record.peers) <= 5  # connections were reused, not one per request


def test_summary_json_is_the_report_with_the_command_and_its_exit_status(tmp_path, emulator_thread):
    import hashlib

    path = manifest(tmp_path, 5)
    with emulator_thread() as emu:
        args = ("create", str(path), "--summary-json", "s.json")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        seen = emu.record
    summary = json.loads((tmp_path / "s.json").read_text())
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert done.returncode == summary["exit_code"] == 0
    assert summary["counts"]["created"] == (results.status == "created").sum() == 5
    assert summary["requests"] == seen.posts + seen.gets and summary["posts"] == seen.posts
    assert summary["manifest"] == str(path)
    assert summary["manifest_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary["host"] == "127.0.0.1" and summary["teams"] == [""]
    assert summary["command"] == "python -m bulk " + " ".join(args)
    assert summary["started_at"].endswith("+00:00") and summary["duration_seconds"] > 0
    assert summary["paths"]["results"] == str(tmp_path / "m.results.csv")
    assert set(summary["error_kinds"]) == set(bulk.ERROR_KINDS)
    assert KEY not in (tmp_path / "s.json").read_text()


def test_summary_json_never_replaces_the_manifest(tmp_path):
    path = manifest(tmp_path, 2)
    before = path.read_bytes()
    done = run_cli("create", str(path), "--dry-run", "--summary-json", str(path), cwd=tmp_path)
    assert done.returncode == 2 and "it would be overwritten" in done.stderr
    assert path.read_bytes() == before
