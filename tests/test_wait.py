"""The emulator's app statuses, and waiting until apps settle: --wait, wait RESULTS."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pandas as pd
import pytest

import bulk
from bulk._operations import settle as _settle
from bulk.emulator import Faults, serve

from .helpers import KEY, URL, FakeClock, cli_env, run_cli, wait_for

TEAM = "t1"


def settling_manifest(tmp_path, running=30, stopped=10, name="m.csv"):
    rows = [(f"run{i:02d}", "BASIC", 1) for i in range(running)]
    rows += [(f"idle{i:02d}", "BASIC", 0) for i in range(stopped)]
    frame = pd.DataFrame(rows, columns=["name", "gpu_tier", "active_workers"])
    frame["model_url"] = URL
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def quick_rounds(monkeypatch):
    """Rounds of real time short enough for a test: 0.05 s backing off to 0.2 s."""
    monkeypatch.setattr(_settle, "FIRST_ROUND", 0.05)
    monkeypatch.setattr(_settle, "LAST_ROUND", 0.2)


def created(tmp_path, emu, **kw):
    results = tmp_path / "m.results.csv"
    bulk.run(
        settling_manifest(tmp_path, **kw),
        base_url=emu.url,
        api_key=KEY,
        team_id=TEAM,
        output=results,
        progress=False,
    )
    return results


@pytest.mark.anyio
async def test_the_emulator_runs_apps_through_their_statuses():
    clock = FakeClock()
    faults = Faults(start_seconds=5, never_start=("slow",), fail=("bad",))
    async with serve(api_key=KEY, faults=faults) as emu:
        emu.clock = clock
        apps = {
            name: emu.store(
                TEAM,
                {
                    "name": name,
                    "configuration": {"gpu_tier": "BASIC", "active_workers": workers},
                    "workflow": {"model_url": URL},
                },
            )
            for name, workers in (("up", 1), ("idle", 0), ("slow", 1), ("bad", 1))
        }

        def statuses():
            return {a["name"]: emu.lifecycle.show(a)["status"] for a in apps.values()}

        assert statuses() == {
            "up": "INITIALIZING",
            "idle": "STOPPED",
            "slow": "INITIALIZING",
            "bad": "FAILED",
        }
        clock.now += 5
        assert statuses()["up"] == "RUNNING" and statuses()["slow"] == "INITIALIZING"
        apps["up"]["configuration"]["active_workers"] = 0
        emu.lifecycle.scaled(apps["up"], 1)
        assert statuses()["up"] == "STOPPED"


@pytest.mark.parametrize("running", [4, 40])
def test_a_wait_settles_by_one_listing_per_round_however_many_apps(
    tmp_path, emulator_thread, running
):
    clock = FakeClock()
    with emulator_thread(Faults(start_seconds=10)) as emu:
        emu.clock = clock
        results = created(tmp_path, emu, running=running, stopped=running // 3)
        gets = emu.record.gets
        frame = bulk.wait(
            results,
            base_url=emu.url,
            api_key=KEY,
            clock=clock,
            sleep=clock.sleep,
            output=tmp_path / "w.csv",
            progress=False,
        )
        listings = emu.record.gets - gets
    assert frame["state"].value_counts().to_dict() == {"RUNNING": running, "STOPPED": running // 3}
    # RUNNING 10 s after the create: rounds after ~2, ~4, ~8 s; one listing each.
    assert 1.7 <= clock.slept[0] <= 2.3 and clock.slept[1] > clock.slept[0] * 1.4
    assert listings == len(clock.slept) == 3
    on_disk = pd.read_csv(tmp_path / "w.csv")
    assert (on_disk["state"].isin(["RUNNING", "STOPPED"])).all()


def test_the_rounds_back_off_with_jitter_to_about_30_s():
    import random

    pauses = [p for p, _ in zip(_settle.rounds(random.Random(1)), range(12), strict=False)]
    assert 1.7 <= pauses[0] <= 2.3 and max(pauses) <= 30 * 1.15
    assert all(p >= 30 * 0.85 for p in pauses[6:]) and len(set(pauses)) == len(pauses)


def test_a_wait_that_times_out_and_one_that_fails_fast(tmp_path, emulator_thread):
    clock = FakeClock()
    faults = Faults(start_seconds=1, never_start=("run01",), fail=("run00",))
    with emulator_thread(faults) as emu:
        emu.clock = clock
        results = created(tmp_path, emu, running=2, stopped=0)
        common = dict(base_url=emu.url, api_key=KEY, clock=clock, sleep=clock.sleep)
        frame = bulk.wait(results, wait_timeout=100, progress=False, **common)
        state = frame.set_index("name")["state"].to_dict()
        error = frame.set_index("name")["error"].to_dict()
        assert state == {"run00": "FAILED", "run01": "timeout"}
        assert "INITIALIZING" in error["run01"] and "100 s" in error["run01"]
        assert "FAILED" in error["run00"]
        assert sum(clock.slept) == pytest.approx(100)  # the deadline, not a round more

        clock.slept.clear()  # the failed app alone: its wait ends at the first round
        gets = emu.record.gets
        only = pd.read_csv(results).query("name == 'run00'")
        frame = bulk.wait(only, wait_timeout=100, progress=False, team_id=TEAM, **common)
        assert frame["state"].tolist() == ["FAILED"] and len(clock.slept) == 1
        assert emu.record.gets - gets == 1


def test_create_wait_writes_the_state_column_and_exits_0(tmp_path, emulator_thread, quick_rounds):
    with emulator_thread(Faults(start_seconds=0.2)) as emu:
        path = settling_manifest(tmp_path)
        done = run_cli(
            "create",
            str(path),
            "--team-id",
            TEAM,
            "--wait",
            "-q",
            "--summary-json",
            str(tmp_path / "s.json"),
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        live = {a["name"]: a["status"] for a in emu.apps[TEAM].values()}
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert (results["status"] == "created").all()
    states = results.set_index("name")["state"].to_dict()
    assert states == live and sorted(set(states.values())) == ["RUNNING", "STOPPED"]
    assert list(states.values()).count("RUNNING") == 30
    assert "waited for 40 apps: 30 RUNNING, 10 STOPPED" in done.stdout
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exit_code"] == 0 and summary["waited"] == {"RUNNING": 30, "STOPPED": 10}


def test_apply_wait_times_out_and_exits_1(tmp_path, emulator_thread, quick_rounds):
    faults = Faults(never_start=("run01",), fail=("run02",))
    with emulator_thread(faults) as emu:
        path = settling_manifest(tmp_path, running=3, stopped=1)
        done = run_cli(
            "apply",
            str(path),
            "--team-id",
            TEAM,
            "--wait",
            "--wait-timeout",
            "0.5",
            "-q",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
    assert done.returncode == 1, done.stderr
    states = pd.read_csv(tmp_path / "m.results.csv").set_index("name")["state"].to_dict()
    assert states == {
        "run00": "RUNNING",
        "run01": "timeout",
        "run02": "FAILED",
        "idle00": "STOPPED",
    }
    assert "timeout" in done.stdout and "FAILED" in done.stdout


def test_wait_on_an_earlier_runs_results(tmp_path, emulator_thread, quick_rounds):
    with emulator_thread(Faults(start_seconds=0.1)) as emu:
        results = created(tmp_path, emu, running=3, stopped=2)
        before = results.read_bytes()
        done = run_cli(
            "wait",
            str(results),
            "-q",
            "--summary-json",
            "w.json",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "w.json").read_text())
    assert summary["counts"] == {"RUNNING": 3, "STOPPED": 2} and summary["listings"] >= 1
    assert results.read_bytes() == before  # an earlier run's results are never rewritten
    waited = pd.read_csv(tmp_path / "m.results.wait.csv")
    assert waited["state"].value_counts().to_dict() == {"RUNNING": 3, "STOPPED": 2}
    assert list(waited.columns) == [*bulk.COLUMNS, "state"]


def test_ctrl_c_stops_a_wait_with_130_and_writes_the_results(tmp_path, emulator_thread):
    with emulator_thread(Faults(never_start=("run00",))) as emu:
        results = created(tmp_path, emu, running=1, stopped=1)
        gets = emu.record.gets
        proc = subprocess.Popen(
            [sys.executable, "-m", "bulk", "wait", str(results), "-q"],
            cwd=tmp_path,
            env=cli_env(emu.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: emu.record.gets > gets, timeout=30, what="the first round")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    waited = pd.read_csv(tmp_path / "m.results.wait.csv").set_index("name")["state"]
    assert waited.to_dict() == {"run00": "INITIALIZING", "idle00": "STOPPED"}
    assert KEY not in out + err


def test_bulk_emulator_takes_the_start_seconds_too(tmp_path):
    with bulk.Emulator(start_seconds=600, api_key=KEY) as emu:
        created(tmp_path, emu, running=1, stopped=1)
        statuses = {a["name"]: a["status"] for a in emu.apps(TEAM)}
    assert statuses == {"run00": "INITIALIZING", "idle00": "STOPPED"}


def test_the_library_waits_with_wait_true(tmp_path, emulator_thread, quick_rounds):
    with emulator_thread(Faults(start_seconds=0.1)) as emu:
        frame = bulk.run(
            settling_manifest(tmp_path, running=2, stopped=1),
            base_url=emu.url,
            api_key=KEY,
            team_id=TEAM,
            output=tmp_path / "r.csv",
            progress=False,
            wait=True,
        )
    assert frame["state"].tolist() == ["RUNNING", "RUNNING", "STOPPED"]
    assert pd.read_csv(tmp_path / "r.csv")["state"].tolist() == frame["state"].tolist()
    assert frame.attrs["wait"].counts == {"RUNNING": 2, "STOPPED": 1}
