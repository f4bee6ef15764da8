"""Re-running is always safe (issue 6): against a server that ignores Idempotency-Key,
a plain re-run, a notebook cell run twice, or a run against another server never creates
an app twice and never reports an app the server does not hold."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import threading

import anyio
import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults, serve

from .helpers import KEY, SAMPLES, URL, cli_env, manifest, run_cli, wait_for

NO_IDEMPOTENCY = Faults(idempotency=False)


def held(emu, owner="user_emulated"):
    """name -> id of the apps the emulator holds for an owner."""
    return {a["name"]: a["id"] for a in emu.apps.get(owner, {}).values()}


def body(name):
    return {"name": name, "configuration": {"gpu_tier": "BASIC"}, "workflow": {"model_url": URL}}


def test_four_plain_reruns_leave_exactly_n_apps_and_each_exits_0(tmp_path, emulator_thread):
    manifest(tmp_path, 12)
    with emulator_thread(Faults(idempotency=False)) as emu:
        for run in range(4):
            done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
            assert done.returncode == 0, (run, done.stdout, done.stderr)
            results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
            expected = "created" if run == 0 else "exists"
            assert (results.status == expected).all(), (run, results)
            assert dict(zip(results.name, results.app_id, strict=True)) == held(emu)
        assert emu.record.posts == 12 and emu.record.duplicates() == {}
        assert emu.record.gets == 4  # one listing per run, before any POST
    # The last finished journal is kept beside the results, the one before it rotated.
    assert (tmp_path / "m.results.journal.jsonl").exists()
    assert (tmp_path / "m.results.journal.1.jsonl").exists()


def test_a_finished_run_then_another_server_creates_the_apps_there(tmp_path, emulator_thread):
    manifest(tmp_path, 6)
    with emulator_thread(Faults(idempotency=False)) as first:
        assert run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(first.url)).returncode == 0
    with emulator_thread(Faults(idempotency=False)) as second:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(second.url))
        assert done.returncode == 0, done.stderr
        assert second.record.posts == 6
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        assert (results.status == "created").all()
        assert dict(zip(results.name, results.app_id, strict=True)) == held(second)


@pytest.mark.anyio
async def test_bulk_run_twice_in_a_notebook_cell_leaves_n_apps(emulator_thread):
    frame = pd.DataFrame({"name": ["a", "b", "c"], "gpu_tier": "BASIC", "model_url": URL})
    with emulator_thread(Faults(idempotency=False)) as emu:
        first = bulk.run(frame, base_url=emu.url, api_key=KEY, progress=False)
        again = bulk.run(frame, base_url=emu.url, api_key=KEY, progress=False)
        assert emu.record.posts == 3 and emu.record.duplicates() == {}
    assert first.status.tolist() == ["created"] * 3 and again.status.tolist() == ["exists"] * 3
    assert again.app_id.tolist() == first.app_id.tolist()


def test_no_skip_existing_creates_a_second_app_of_the_same_name(tmp_path, emulator_thread):
    path = manifest(tmp_path, 2)
    with emulator_thread(NO_IDEMPOTENCY) as emu:
        first = bulk.run(path, base_url=emu.url, api_key=KEY, progress=False)
        again = bulk.run(path, base_url=emu.url, api_key=KEY, progress=False, skip_existing=False)
        done = run_cli("create", "m.csv", "--no-skip-existing", cwd=tmp_path, env=cli_env(emu.url))
        assert done.returncode == 0, done.stderr
        assert emu.record.created[("user_emulated", "app-000")] == 3
    assert (again.status == "created").all()
    assert set(again.app_id).isdisjoint(first.app_id)  # new apps, never the old ones


def test_two_apps_already_sharing_a_name_fail_the_row_with_both_ids(tmp_path, emulator_thread):
    path = manifest(tmp_path, 2)
    with emulator_thread(NO_IDEMPOTENCY) as emu:
        ids = [emu.store("user_emulated", body("app-000"))["id"] for _ in range(2)]
        done = run_cli("create", str(path), cwd=tmp_path, env=cli_env(emu.url))
        assert emu.record.posts == 1  # only app-001
    assert done.returncode == 1
    results = pd.read_csv(tmp_path / "m.results.csv", dtype=str, keep_default_na=False)
    row = results.iloc[0]
    assert (row.status, row.error_kind, row.app_id) == ("failed", "client", "")
    assert all(app_id in row.error for app_id in ids) and "2 apps are named" in row.error
    assert results.iloc[1].status == "created"


def _unfinished_run(tmp_path, url):
    """A run interrupted before its first POST: its journal is left for --resume."""
    path = manifest(tmp_path, 20)
    control = bulk.RunControl()
    control.interrupt()
    with pytest.raises(bulk.Interrupted):
        bulk.run(
            path, base_url=url, api_key=KEY, output=tmp_path / "m.results.csv", progress=False,
            control=control,
        )  # fmt: skip


@pytest.mark.parametrize("change", ["server", "key", "team", "manifest"])
def test_resume_against_another_target_is_refused_with_no_request_sent(
    tmp_path, emulator_thread, change
):
    with emulator_thread() as first:
        _unfinished_run(tmp_path, first.url)
        with emulator_thread() as second:
            env = cli_env(first.url)
            args = ["create", "m.csv", "--resume"]
            if change == "server":
                env = cli_env(second.url)
            elif change == "key":
                env["RUNGEN_API_KEY"] = KEY + "-other"
            elif change == "team":
                args += ["--team-id", "t2"]
            else:
                manifest(tmp_path, 21)
            gets, posts = first.record.gets, first.record.posts
            done = run_cli(*args, cwd=tmp_path, env=env)
            assert second.record.gets == second.record.posts == 0
            assert (first.record.gets, first.record.posts) == (gets, posts)
    assert done.returncode == 2, done.stderr
    assert "--resume refused" in done.stderr and "move the journal away" in done.stderr
    reason = {
        "server": f"this run to {second.url}",
        "key": "another API key",
        "team": "team(s)",
        "manifest": "manifest's rows",
    }
    assert [r for c, r in reason.items() if r in done.stderr] == [reason[change]]
    assert KEY not in done.stderr


def test_resume_against_the_same_target_finishes_the_run(tmp_path, emulator_thread):
    with emulator_thread(NO_IDEMPOTENCY) as emu:
        _unfinished_run(tmp_path, emu.url)
        done = run_cli("create", "m.csv", "--resume", cwd=tmp_path, env=cli_env(emu.url))
        assert done.returncode == 0, done.stderr
        assert len(held(emu)) == 20 and emu.record.duplicates() == {}


@pytest.mark.parametrize("which", ["manifest", "loras"])
def test_output_that_is_an_input_is_refused_and_left_unchanged(tmp_path, which):
    path = manifest(tmp_path, 2)
    (tmp_path / "l.csv").write_text("app,id,versionId,downloadUrl,name,weight\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    target = "m.csv" if which == "manifest" else "l.csv"
    done = run_cli(
        "create", str(path), "--loras", "l.csv", "-o", target, cwd=tmp_path, env=cli_env("x")
    )
    assert done.returncode == 2 and "it would be overwritten" in done.stderr, done.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_output_that_is_not_a_results_file_is_refused(tmp_path):
    manifest(tmp_path, 2)
    (tmp_path / "notes.csv").write_text("my,own\ndata,here\n")
    done = run_cli("create", "m.csv", "--dry-run", "-o", "notes.csv", cwd=tmp_path)
    assert done.returncode == 2 and "is not a bulk results file" in done.stderr
    assert (tmp_path / "notes.csv").read_text() == "my,own\ndata,here\n"


def test_a_dry_run_never_replaces_a_real_runs_results(tmp_path, emulator_thread):
    manifest(tmp_path, 3)
    with emulator_thread() as emu:
        assert run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url)).returncode == 0
    real = (tmp_path / "m.results.csv").read_bytes()
    done = run_cli("create", "m.csv", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "m.dry-run.csv").exists()
    refused = run_cli("create", "m.csv", "--dry-run", "-o", "m.results.csv", cwd=tmp_path)
    assert refused.returncode == 2 and "holds the results of a real run" in refused.stderr
    assert (tmp_path / "m.results.csv").read_bytes() == real


def test_results_follow_the_umask_and_the_journal_is_private(tmp_path, emulator_thread):
    manifest(tmp_path, 2)
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
    assert done.returncode == 0
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "m.results.csv").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "m.results.journal.jsonl").stat().st_mode) == 0o600


def test_results_keep_a_filtered_frames_index(emulator_thread):
    frame = pd.DataFrame(
        {"name": [f"n{i}" for i in range(6)], "gpu_tier": "BASIC", "model_url": URL},
        index=[10, 11, 12, 13, 14, 15],
    )
    subset = frame[frame.index % 2 == 1]
    with emulator_thread() as emu:
        results = bulk.run(subset, base_url=emu.url, api_key=KEY, progress=False)
    assert results.index.tolist() == [11, 13, 15] and results.row.tolist() == [1, 2, 3]
    joined = subset.join(results[["app_id"]])
    assert joined.app_id.tolist() == [held(emu)[n] for n in subset.name]


def _interrupt_once_some_were_created(emu, count=5):
    def press_ctrl_c():
        wait_for(lambda: len(emu.record.created) >= count, what="a few apps created")
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press_ctrl_c, daemon=True)
    thread.start()
    return thread


def _check_interrupted(stopped, emu, tmp_path):
    results = stopped.value.results
    assert isinstance(stopped.value, KeyboardInterrupt)
    created = results[results.status == "created"]
    assert 0 < len(created) < len(results)
    # Every app the emulator holds is in the results with its id: none lost.
    assert dict(zip(created.name, created.app_id, strict=True)) == held(emu)
    assert (results.status.isin(["created", "skipped"])).all()
    written = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert written.app_id.tolist() == results.app_id.fillna("").tolist()


def _ctrl_c_during_bulk_run(tmp_path, emulator_thread):
    path = manifest(tmp_path, 200)
    before = signal.getsignal(signal.SIGINT)
    with emulator_thread(Faults(latency=0.05, idempotency=False)) as emu:
        presser = _interrupt_once_some_were_created(emu)
        with pytest.raises(bulk.Interrupted) as stopped:
            bulk.run(
                path, base_url=emu.url, api_key=KEY, concurrency=4, progress=False,
                output=tmp_path / "r.csv",
            )  # fmt: skip
        presser.join(10)
        wait_for(lambda: emu.record.posts == len(emu.record.bodies), what="handlers done")
        _check_interrupted(stopped, emu, tmp_path)
    assert signal.getsignal(signal.SIGINT) is before  # the handler that was there is back


def test_ctrl_c_during_bulk_run_raises_interrupted_with_the_results(tmp_path, emulator_thread):
    _ctrl_c_during_bulk_run(tmp_path, emulator_thread)


@pytest.mark.anyio
async def test_ctrl_c_during_bulk_run_inside_a_running_loop(tmp_path, emulator_thread):
    """As in a notebook: the run lives in a helper thread, the interrupt in this one."""
    _ctrl_c_during_bulk_run(tmp_path, emulator_thread)


@pytest.mark.anyio
async def test_a_cancelled_arun_writes_its_results_then_is_cancelled(tmp_path):
    path = manifest(tmp_path, 200)
    async with serve(api_key=KEY, faults=Faults(latency=0.05, idempotency=False)) as emu:
        with anyio.move_on_after(30) as outer:
            async with anyio.create_task_group() as tg:

                async def cancel_soon():
                    while len(emu.record.created) < 5:
                        await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()

                tg.start_soon(cancel_soon)
                await bulk.arun(
                    path,
                    base_url=emu.url,
                    api_key=KEY,
                    concurrency=4,
                    progress=False,
                    output=tmp_path / "r.csv",
                )
                raise AssertionError("arun returned instead of being cancelled")
        assert not outer.cancelled_caught
        while emu.record.posts != len(emu.record.bodies):
            await anyio.sleep(0.01)
        written = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
        created = written[written.status == "created"]
        assert dict(zip(created.name, created.app_id, strict=True)) == held(emu)
        assert (written.status == "skipped").sum() > 0


def test_the_readme_command_works_twice_and_leaves_tests_unaffected(tmp_path):
    """The README's first command, from a folder laid out like the project, twice."""
    shutil.copytree(
        SAMPLES, tmp_path / "input_samples", ignore=shutil.ignore_patterns("*.results*")
    )
    env = {k: v for k, v in cli_env("unused").items() if not k.startswith("RUNGEN_")}
    for _ in range(2):
        done = run_cli("create", "input_samples/apps.csv", "--emulator", cwd=tmp_path, env=env)
        assert done.returncode == 1, done.stderr  # five rows are invalid on purpose
        assert "20 created" in done.stdout and "Traceback" not in done.stderr
    left = {p.name for p in (tmp_path / "input_samples").iterdir()}
    assert {"apps.results.csv", "apps.results.journal.jsonl"} <= left


@pytest.mark.anyio
async def test_ctrl_c_during_await_arun_raises_interrupted_with_the_results(tmp_path):
    path = manifest(tmp_path, 200)
    async with serve(api_key=KEY, faults=Faults(latency=0.05, idempotency=False)) as emu:
        before = signal.getsignal(signal.SIGINT)
        presser = _interrupt_once_some_were_created(emu)
        with pytest.raises(bulk.Interrupted) as stopped:
            await bulk.arun(
                path, base_url=emu.url, api_key=KEY, concurrency=4, progress=False,
                output=tmp_path / "r.csv",
            )  # fmt: skip
        await anyio.to_thread.run_sync(presser.join, 10)
        while emu.record.posts != len(emu.record.bodies):
            await anyio.sleep(0.01)
        _check_interrupted(stopped, emu, tmp_path)
    assert signal.getsignal(signal.SIGINT) is before  # the handler that was there is back


@pytest.mark.parametrize("which", ["manifest", "loras"])
def test_a_journal_that_would_be_named_like_an_input_is_refused(tmp_path, which):
    manifest(tmp_path, 2, name="apps.journal.jsonl" if which == "manifest" else "m.csv")
    source = "apps.journal.jsonl" if which == "manifest" else "m.csv"
    if which == "manifest":
        frame = pd.read_csv(tmp_path / source)
        frame.to_json(tmp_path / source, orient="records", lines=True)
    (tmp_path / "r.journal.jsonl").write_text('{"app": "x"}\n')
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = (
        ["-o", "apps.csv"] if which == "manifest" else ["--loras", "r.journal.jsonl", "-o", "r.csv"]
    )
    done = run_cli("create", source, *args, cwd=tmp_path, env=cli_env("http://127.0.0.1:9"))
    assert done.returncode == 2 and "it would be overwritten" in done.stderr, done.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_run_that_sent_nothing_does_not_block_the_corrected_run(tmp_path, emulator_thread):
    manifest(tmp_path, 3)
    with emulator_thread() as emu:
        wrong = run_cli(
            "create", "m.csv", cwd=tmp_path, env=cli_env(emu.url, RUNGEN_API_KEY="wrong-key-123")
        )
        assert wrong.returncode == 3 and emu.record.posts == 0  # the key was refused
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        assert done.returncode == 0, done.stderr
        assert len(held(emu)) == 3
