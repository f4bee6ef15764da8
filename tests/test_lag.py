"""Issue 14, point 3: a listing that lags cannot cause a second app. Against a server
whose listings show an app only 4 seconds after it was created, and that ignores
Idempotency-Key, a run then the same run at once leaves exactly one app per row."""

from __future__ import annotations

import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults

from .helpers import KEY, URL, cli_env, manifest, run_cli

LAG = Faults(list_lag=4, idempotency=False)


def held(emu):
    return {a["name"]: a["id"] for a in emu.apps.get("user_emulated", {}).values()}


def listed(emu):
    """What a listing shows right now (the lag applied)."""
    import time

    from bulk.emulator._listing import visible

    now = time.monotonic()
    return [i for i in emu.apps.get("user_emulated", {}) if visible(emu, "user_emulated", i, now)]


def test_a_run_then_the_same_command_at_once_leaves_exactly_n_apps(tmp_path, emulator_thread):
    manifest(tmp_path, 15)
    with emulator_thread(LAG) as emu:
        env = cli_env(emu.url)
        first = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        again = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        assert listed(emu) == []  # the second run's listing could not have shown them
        assert again.returncode == 0, again.stderr
        assert emu.record.posts == 15 and emu.record.duplicates() == {}
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        assert (results.status == "exists").all(), results
        assert dict(zip(results.name, results.app_id, strict=True)) == held(emu)
        # A third run at once knows them from the second's journal, which found them.
        third = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        assert third.returncode == 0 and emu.record.posts == 15, third.stderr


def test_bulk_run_twice_in_one_process_within_the_lag_leaves_n_apps(emulator_thread):
    frame = pd.DataFrame({"name": ["a", "b", "c", "d"], "gpu_tier": "BASIC", "model_url": URL})
    with emulator_thread(LAG) as emu:
        first = bulk.run(frame, base_url=emu.url, api_key=KEY, progress=False)
        again = bulk.run(frame, base_url=emu.url, api_key=KEY, progress=False)
        assert listed(emu) == []
        assert emu.record.posts == 4 and emu.record.duplicates() == {}
    assert first.status.tolist() == ["created"] * 4 and again.status.tolist() == ["exists"] * 4
    assert again.app_id.tolist() == first.app_id.tolist()


def test_a_recorded_id_counts_only_once_the_server_confirms_it(tmp_path, emulator_thread):
    manifest(tmp_path, 4)
    with emulator_thread(LAG) as emu:
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", cwd=tmp_path, env=env).returncode == 0
        gone = held(emu)["app-002"]
        del emu.apps["user_emulated"][gone]  # deleted by hand since: GET answers 404
        again = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert emu.record.posts == 5  # only the deleted one is created again
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        now = held(emu)
    assert results.status.tolist() == ["exists", "exists", "created", "exists"]
    assert dict(zip(results.name, results.app_id, strict=True)) == now
    assert gone not in set(results.app_id)


def test_a_resume_within_the_lag_keeps_the_stopped_runs_apps(tmp_path, emulator_thread):
    manifest(tmp_path, 24)
    control = bulk.RunControl()
    run = {"progress": False, "output": tmp_path / "r.csv", "concurrency": 2}
    with emulator_thread(LAG) as emu:
        emu.on_post = lambda headers: emu.record.posts >= 8 and control.interrupt()
        with pytest.raises(bulk.Interrupted):
            bulk.run(tmp_path / "m.csv", base_url=emu.url, api_key=KEY, control=control, **run)
        emu.on_post = None
        stopped = len(emu.record.created)
        assert 8 <= stopped < 24 and listed(emu) == []
        done = bulk.run(tmp_path / "m.csv", base_url=emu.url, api_key=KEY, resume=True, **run)
        assert emu.record.posts == 24 and emu.record.duplicates() == {}
        assert (done.status == "created").all()
        assert dict(zip(done.name, done.app_id, strict=True)) == held(emu)
