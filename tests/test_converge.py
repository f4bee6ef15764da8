"""plan, apply and delete end to end against the emulator, and the cost guard."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest

import bulk
from bulk._validating.compare import judge
from bulk.emulator import Faults

from .helpers import KEY, URL, cli_env, run_cli, wait_for

TEAM = "t1"
LORA = {
    "id": "212532",
    "versionId": "244808",
    "downloadUrl": "https://civitai.com/api/download/models/244808",
    "name": "Disney",
    "weight": 0.8,
}


def body(name, tier="BASIC", workers=0, description="d", loras=()):
    config = {"gpu_tier": tier, "active_workers": workers}
    workflow = {"model_url": URL, "tools": {"loras": list(loras)}} if loras else {"model_url": URL}
    return {"name": name, "description": description, "configuration": config, "workflow": workflow}


def seed(emu):
    """The team's live apps: one that matches, three that differ in what PUT changes,
    one in its tier, and two that share a name."""
    for app in (
        body("same", workers=1),
        body("workers", workers=0),
        body("weights", loras=[LORA]),
        body("desc", description="old"),
        body("tier", tier="BASIC"),
        body("dup"),
        body("dup"),
    ):
        emu.store(TEAM, app)


def plan_manifest(tmp_path, *, bad=True, name="m.csv"):
    rows = [
        ("same", "BASIC", 1, "d", ""),
        ("workers", "BASIC", 2, "d", ""),
        ("weights", "BASIC", 0, "d", json.dumps([{**LORA, "weight": 0.6}])),
        ("desc", "BASIC", 0, "new", ""),
        ("tier", "STANDARD", 0, "d", ""),
        ("dup", "BASIC", 0, "d", ""),
        ("new", "PERFORMANCE", 3, "d", ""),
    ] + ([("bad", "NOPE", 0, "d", "")] if bad else [])
    columns = ["name", "gpu_tier", "active_workers", "description", "loras"]
    frame = pd.DataFrame(rows, columns=columns).assign(model_url=URL)
    frame.to_csv(tmp_path / name, index=False)
    return tmp_path / name


def no_writes(emu):
    return emu.record.posts == emu.record.puts == emu.record.deletes == 0


def test_plan_shows_each_rows_action_changes_and_totals_and_writes_nothing(
    tmp_path, emulator_thread
):
    plan_manifest(tmp_path)
    with emulator_thread() as emu:
        seed(emu)
        done = run_cli("plan", "m.csv", "--team-id", TEAM, cwd=tmp_path, env=cli_env(emu.url))
        assert no_writes(emu) and emu.record.gets == 1  # one listing of the one team
    assert done.returncode == 1, done.stderr  # an invalid row and a conflict
    plan = pd.read_csv(tmp_path / "m.plan.csv", dtype=str, keep_default_na=False)
    assert list(plan.columns) == ["row", "name", "team_id", "action", "app_id", "changes", "error"]
    actions = dict(zip(plan.name, plan.action, strict=True))
    assert actions == {
        "same": "unchanged",
        "workers": "update",
        "weights": "update",
        "desc": "update",
        "tier": "replace",
        "dup": "conflict",
        "new": "create",
        "bad": "invalid",
    }
    changes = dict(zip(plan.name, plan.changes, strict=True))
    assert changes["workers"] == "active_workers: 0 -> 2"
    assert changes["weights"] == "lora 212532 weight: 0.8 -> 0.6"
    assert changes["desc"] == "description: 'old' -> 'new'"
    assert changes["tier"] == "gpu_tier: 'BASIC' -> 'STANDARD'"
    assert "2 apps are named 'dup'" in plan.error[plan.name == "dup"].item()
    assert (plan.team_id[plan.action != "invalid"] == TEAM).all()
    assert "1 create, 1 unchanged, 3 update, 1 replace, 1 conflict, 1 invalid" in done.stdout
    assert (
        "apps per GPU tier, as the manifest asks: 5 BASIC, 1 PERFORMANCE, 1 STANDARD" in done.stdout
    )
    # before: same 1 + the others 0; after: same 1, workers 2, new 3 (tier stays as is)
    assert "active workers: 1 now, 6 once applied" in done.stdout


@pytest.mark.parametrize(
    "detailed, bad, expected", [(False, False, 0), (True, False, 4), (True, True, 1)]
)
def test_plan_exit_status(tmp_path, emulator_thread, detailed, bad, expected):
    path = plan_manifest(tmp_path, bad=bad)
    frame = pd.read_csv(path)
    frame[frame.name != "dup"].to_csv(path, index=False)
    flags = ["--detailed-exitcode"] if detailed else []
    with emulator_thread() as emu:
        seed(emu)
        done = run_cli(
            "plan", "m.csv", "--team-id", TEAM, *flags, cwd=tmp_path, env=cli_env(emu.url)
        )
    assert done.returncode == expected, done.stdout + done.stderr


def test_a_plan_with_nothing_to_do_exits_0_even_with_detailed_exitcode(tmp_path, emulator_thread):
    columns = ["name", "gpu_tier", "active_workers", "description"]
    frame = pd.DataFrame([("same", "BASIC", 1, "d")], columns=columns).assign(model_url=URL)
    frame.to_csv(tmp_path / "m.csv", index=False)
    with emulator_thread() as emu:
        seed(emu)
        args = ("plan", "m.csv", "--team-id", TEAM, "--detailed-exitcode")
        assert run_cli(*args, cwd=tmp_path, env=cli_env(emu.url)).returncode == 0


def test_apply_converges_what_an_update_can_change_and_leaves_the_rest(tmp_path, emulator_thread):
    plan_manifest(tmp_path)
    with emulator_thread() as emu:
        seed(emu)
        before = {a["id"]: json.dumps(a, sort_keys=True) for a in emu.apps[TEAM].values()}
        done = run_cli("apply", "m.csv", "--team-id", TEAM, cwd=tmp_path, env=cli_env(emu.url))
        apps = {a["name"]: a for a in emu.apps[TEAM].values() if a["name"] != "dup"}
        again = run_cli("plan", "m.csv", "--team-id", TEAM, cwd=tmp_path, env=cli_env(emu.url))
        assert emu.record.created[(TEAM, "new")] == 1 and emu.record.posts == 1
        # Only the changed fields were sent.
        assert {json.dumps(b, sort_keys=True) for b in emu.record.put_bodies} == {
            json.dumps({"configuration": {"active_workers": 2}}),
            json.dumps({"description": "new"}),
            json.dumps(
                {"workflow": {"tools": {"loras": [{**LORA, "weight": 0.6}]}}}, sort_keys=True
            ),
        }
        dups = [a for a in emu.apps[TEAM].values() if a["name"] == "dup"]
    assert done.returncode == 1  # drifted, conflict and invalid rows
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert dict(zip(results.name, results.status, strict=True)) == {
        "same": "unchanged",
        "workers": "updated",
        "weights": "updated",
        "desc": "updated",
        "tier": "drifted",
        "dup": "conflict",
        "new": "created",
        "bad": "invalid",
    }
    assert "gpu_tier: 'BASIC' -> 'STANDARD'" in results.error[results.name == "tier"].item()
    assert apps["workers"]["configuration"]["active_workers"] == 2
    assert apps["weights"]["workflow"]["tools"]["loras"][0]["weight"] == 0.6
    assert apps["desc"]["description"] == "new"
    assert apps["new"]["configuration"] == {
        "gpu_tier": "PERFORMANCE",
        "active_workers": 3,
        "location": None,
    }
    assert json.dumps(apps["tier"], sort_keys=True) == before[apps["tier"]["id"]]  # untouched
    assert all(json.dumps(a, sort_keys=True) == before[a["id"]] for a in dups)
    assert "asked for 5 active workers" in done.stdout  # workers 2 and new 3
    plan = pd.read_csv(tmp_path / "m.plan.csv")
    assert set(plan.action) == {"unchanged", "replace", "conflict", "invalid"}
    assert again.returncode == 1


def test_apply_through_faults_and_a_kill_creates_nothing_twice(tmp_path, emulator_thread):
    names = [f"app-{i:03d}" for i in range(80)]
    frame = pd.DataFrame(
        {"name": names, "gpu_tier": "BASIC", "model_url": URL, "active_workers": 1}
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    faults = Faults(latency=0.05, drop_after=0.1, error_rate=0.1, idempotency=False, seed=5)
    with emulator_thread(faults) as emu:
        for name in names[:20]:  # live already, at 0 workers: to update
            emu.store(TEAM, body(name, workers=0, description=None) | {"description": None})
        command = [sys.executable, "-m", "bulk", "apply", "m.csv", "--team-id", TEAM, "-q"]
        command += ["--concurrency", "6", "--timeout", "2"]
        env = cli_env(emu.url)
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        journal = tmp_path / "m.results.journal.jsonl"
        wait_for(
            lambda: journal.exists() and journal.read_text().count('"result"') >= 15,
            what="15 rows done",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        done = run_cli(
            "apply",
            "m.csv",
            "--team-id",
            TEAM,
            "--resume",
            "--max-retries",
            "10",
            "--timeout",
            "1",
            cwd=tmp_path,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert not emu.record.duplicates() and len(emu.apps[TEAM]) == 80
        assert all(a["configuration"]["active_workers"] == 1 for a in emu.apps[TEAM].values())
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert set(results.status) <= {"created", "updated", "unchanged"}
    by_name = {a["name"]: a["id"] for a in emu.apps[TEAM].values()}
    assert dict(zip(results.name, results.app_id, strict=True)) == by_name


def test_delete_rolls_back_what_the_run_created_and_nothing_else(tmp_path, emulator_thread):
    frame = pd.DataFrame(
        {
            "name": ["a", "b", "c", "old"],
            "gpu_tier": "BASIC",
            "model_url": URL,
            "active_workers": [2, 0, 1, 0],
        }
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    with emulator_thread() as emu:
        old = emu.store(TEAM, body("old"))  # there before the run: 'exists'
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", "--team-id", TEAM, cwd=tmp_path, env=env).returncode == 0
        refused = run_cli("delete", "m.results.csv", cwd=tmp_path, env=env)  # no terminal, no --yes
        assert refused.returncode == 2 and "pass --yes" in refused.stderr
        assert emu.record.deletes == emu.record.puts == 0
        listed = run_cli("delete", "m.results.csv", "--dry-run", cwd=tmp_path, env=env)
        assert listed.returncode == 0 and "will delete 3 apps: 3 of team 't1'" in listed.stdout
        assert emu.record.deletes == 0
        gone_first = next(a["id"] for a in emu.apps[TEAM].values() if a["name"] == "c")
        del emu.apps[TEAM][gone_first]  # deleted by hand meanwhile: its DELETE meets a 404
        done = run_cli("delete", "m.results.csv", "--yes", cwd=tmp_path, env=env)
        left = list(emu.apps[TEAM].values())
        deleted, puts = emu.record.deleted, emu.record.put_bodies
    assert done.returncode == 0, done.stdout + done.stderr
    assert left == [old]  # the app the run found is untouched
    assert sorted(w for _, _, w in deleted) == [0, 0]  # each was at 0 workers when deleted
    assert puts == [{"configuration": {"active_workers": 0}}]  # only 'a' was running
    results = pd.read_csv(tmp_path / "m.results.deleted.csv")
    assert dict(zip(results.name, results.status, strict=True)) == {
        "a": "deleted",
        "b": "deleted",
        "c": "gone",
    }
    assert (results.team_id == TEAM).all()


def test_the_cost_guard_refuses_before_any_write(tmp_path, emulator_thread):
    frame = pd.DataFrame(
        {
            "name": ["a", "b", "c"],
            "gpu_tier": "BASIC",
            "model_url": URL,
            "active_workers": [1, 400, 300],
        }
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        flag = run_cli("create", "m.csv", "--max-active-workers", "100", cwd=tmp_path, env=env)
        by_env = run_cli(
            "apply", "m.csv", cwd=tmp_path, env=cli_env(emu.url, RUNGEN_MAX_ACTIVE_WORKERS="700")
        )
        with pytest.raises(bulk.UsageError, match="701 active workers"):
            bulk.run(
                tmp_path / "m.csv",
                base_url=emu.url,
                api_key=KEY,
                max_active_workers=700,
                progress=False,
            )
        assert no_writes(emu)
        fits = run_cli("create", "m.csv", "--max-active-workers", "701", cwd=tmp_path, env=env)
        assert fits.returncode == 0 and emu.record.posts == 3
    assert flag.returncode == 2
    assert "ask for 701 active workers in all, more than the limit of 100" in flag.stderr
    assert "row 2 'b' (400), row 3 'c' (300), row 1 'a' (1)" in flag.stderr
    assert by_env.returncode == 2 and "more than the limit of 700" in by_env.stderr


def test_more_than_a_thousand_workers_needs_allow_large_and_json_safe_always(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "gpu_tier": "BASIC",
            "model_url": URL,
            "active_workers": ["5000", "1" + "0" * 20],
        }
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    strict = bulk.run(tmp_path / "m.csv", dry_run=True, progress=False)
    assert strict.status.tolist() == ["invalid", "invalid"]
    assert "5,000 is more than 1,000" in strict.error[0] and "--allow-large" in strict.error[0]
    large = bulk.run(tmp_path / "m.csv", dry_run=True, progress=False, allow_large=True)
    assert large.status.tolist() == ["valid", "invalid"]
    assert "is not a JSON-safe integer" in large.error[1]


def test_listings_that_do_not_show_loras_make_them_unknown_not_different():
    wanted = body("x", loras=[LORA])
    shown = body("x") | {"id": "app_1"}
    shown["workflow"]["tools"] = {}
    assert judge(wanted, [shown]).action == "unchanged"
    shown["workflow"]["tools"] = {"loras": [{"id": "999", "name": "other", "weight": 0.8}]}
    verdict = judge(wanted, [shown])
    assert verdict.action == "replace" and verdict.fixed == ("loras: 999 -> 212532",)


def test_a_field_the_manifest_leaves_empty_is_not_managed():
    wanted = body("x")
    del wanted["description"]
    del wanted["configuration"]["active_workers"]
    live = body("x", workers=3, description="theirs") | {"id": "app_1"}
    assert judge(wanted, [live]).action == "unchanged"
    assert Counter(judge(body("x", tier="STANDARD"), [live]).fixed)  # a tier change is fixed


def test_the_library_plans_applies_and_rolls_back(tmp_path, emulator_thread):
    path = plan_manifest(tmp_path, bad=False)
    with emulator_thread() as emu:
        seed(emu)
        given = {"base_url": emu.url, "api_key": KEY, "team_id": TEAM, "progress": False}
        plan = bulk.plan(path, **given)
        assert plan.attrs["totals"].actions["update"] == 3 and plan.attrs["output"] is None
        applied = bulk.apply(path, output=tmp_path / "r.csv", **given)
        assert applied.attrs["report"].puts == 3 and "updated" in set(applied.status)
        rolled = bulk.delete(tmp_path / "r.csv", base_url=emu.url, api_key=KEY, progress=False)
        names = sorted(a["name"] for a in emu.apps[TEAM].values())
    assert rolled.status.tolist() == ["deleted"] and rolled.name.tolist() == ["new"]
    assert rolled.row.tolist() == [7]  # the row of the results file it came from
    assert "new" not in names and len(names) == 7


def test_plan_writes_its_summary_json_too(tmp_path, emulator_thread):
    plan_manifest(tmp_path)
    with emulator_thread() as emu:
        seed(emu)
        args = ("plan", "m.csv", "--team-id", TEAM, "--summary-json", "s.json")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["exit_code"] == done.returncode == 1
    assert summary["counts"] == {
        "create": 1,
        "unchanged": 1,
        "update": 3,
        "replace": 1,
        "conflict": 1,
        "invalid": 1,
        "delete": 0,  # --prune only
        "unmanaged": 0,
    }
    assert summary["requests"] == summary["listings"] == 1 and summary["teams"] == [TEAM]
    assert summary["paths"] == {"plan": str(tmp_path / "m.plan.csv")}
    assert summary["started_at"].endswith("+00:00") and summary["manifest_sha256"]
