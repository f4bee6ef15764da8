"""status and export end to end against the emulator: see and adopt what is live."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import bulk

from .helpers import KEY, URL, cli_env, run_cli

TEAM = "t1"
LORA = {
    "id": "007310",
    "versionId": "244808",
    "downloadUrl": "https://civitai.com/api/download/models/244808",
    "name": "Pixel",
    "weight": 0.8,
}


def body(name, workers=0, tier="BASIC", loras=(), **extra):
    workflow = {"model_url": URL, "tools": {"loras": list(loras)}} if loras else {"model_url": URL}
    config = {"gpu_tier": tier, "active_workers": workers, **extra.pop("config", {})}
    return {"name": name, "configuration": config, "workflow": workflow, **extra}


def seed(emu):
    emu.store(TEAM, body("alpha", workers=2, description="first", loras=[LORA]))
    emu.store(TEAM, body("beta", tier="PERFORMANCE", config={"location": "eu-west"}))
    emu.store(TEAM, body("gamma", workers=1))
    emu.store("t2", body("other"))


def test_status_lists_a_seeded_team_by_one_listing(tmp_path, emulator_thread):
    with emulator_thread() as emu:
        seed(emu)
        gets = emu.record.gets
        done = run_cli(
            "status",
            "--team-id",
            TEAM,
            "-o",
            "live.csv",
            "--summary-json",
            "s.json",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        listings = emu.record.gets - gets
        ids = {a["name"]: a["id"] for a in emu.apps[TEAM].values()}
    assert done.returncode == 0, done.stderr
    assert listings == 1 and emu.record.posts == emu.record.puts == 0
    table = pd.read_csv(tmp_path / "live.csv", dtype={"active_workers": "Int64"})
    names = "name app_id status gpu_tier active_workers location model_url loras created_at"
    assert list(table.columns) == [*names.split(), "updated_at", "team_id"]
    assert table["name"].tolist() == ["alpha", "beta", "gamma"]
    assert table["app_id"].tolist() == [ids["alpha"], ids["beta"], ids["gamma"]]
    assert table["status"].tolist() == ["RUNNING", "STOPPED", "RUNNING"]
    assert table["active_workers"].tolist() == [2, 0, 1]
    assert table["location"].fillna("").tolist() == ["", "eu-west", ""]
    assert json.loads(table["loras"][0]) == [{"id": "007310", "name": "Pixel", "weight": 0.8}]
    assert (table["team_id"] == TEAM).all() and table["created_at"].notna().all()
    assert "3 apps: 2 RUNNING, 1 STOPPED; 3 active workers in all" in done.stdout
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["counts"] == {"RUNNING": 2, "STOPPED": 1} and summary["listings"] == 1
    assert KEY not in done.stdout + done.stderr


def test_status_of_a_manifests_teams_marks_the_managed_apps(tmp_path, emulator_thread):
    manifest = tmp_path / "m.csv"
    pd.DataFrame(
        {
            "name": ["alpha", "other", "zeta"],
            "team_id": [TEAM, "t2", TEAM],
            "gpu_tier": "BASIC",
            "model_url": URL,
        }
    ).to_csv(manifest, index=False)
    with emulator_thread() as emu:
        seed(emu)
        frame = bulk.status(manifest, base_url=emu.url, api_key=KEY)
    managed = dict(zip(frame["name"], frame["managed"], strict=True))
    assert managed == {"alpha": True, "beta": False, "gamma": False, "other": True}
    assert sorted(set(frame["team_id"])) == [TEAM, "t2"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".xlsx"])
def test_export_then_plan_reports_nothing_to_do(tmp_path, emulator_thread, suffix):
    with emulator_thread() as emu:
        seed(emu)
        env = cli_env(emu.url)
        done = run_cli("export", "--team-id", TEAM, "-o", f"team{suffix}", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert "exported 3 apps of team 't1'" in done.stdout
        planned = run_cli(
            "plan",
            f"team{suffix}",
            "--team-id",
            TEAM,
            "--detailed-exitcode",
            cwd=tmp_path,
            env=env,
        )
        again = run_cli("export", "--team-id", TEAM, "-o", f"team{suffix}", cwd=tmp_path, env=env)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    plan = pd.read_csv(tmp_path / "team.plan.csv")
    assert plan["action"].tolist() == ["unchanged"] * 3
    assert again.returncode == 2 and "--force" in again.stderr  # never replaces a file


def test_an_exported_lora_updates_other_fields_but_not_its_weight(tmp_path, emulator_thread):
    with emulator_thread() as emu:
        seed(emu)
        env = cli_env(emu.url)
        bulk.export(team_id=TEAM, output=tmp_path / "team.csv", base_url=emu.url, api_key=KEY)
        frame = pd.read_csv(tmp_path / "team.csv")
        assert "versionId" not in frame["loras"][0]
        frame.loc[0, "description"] = "changed"
        frame.to_csv(tmp_path / "desc.csv", index=False)
        frame.loc[0, "loras"] = frame["loras"][0].replace("0.8", "0.5")
        frame.loc[3] = ["new", None, "BASIC", 0, None, URL, frame["loras"][0], TEAM]
        frame.to_csv(tmp_path / "weight.csv", index=False)
        updated = run_cli("apply", "desc.csv", "--team-id", TEAM, "-q", cwd=tmp_path, env=env)
        puts = list(emu.record.put_bodies)
        planned = run_cli("plan", "weight.csv", "--team-id", TEAM, cwd=tmp_path, env=env)
        created = run_cli("create", "weight.csv", "--team-id", TEAM, "-q", cwd=tmp_path, env=env)
        posts = emu.record.posts
    assert updated.returncode == 0, updated.stderr
    assert puts == [{"description": "changed"}]
    plan = pd.read_csv(tmp_path / "weight.plan.csv").set_index("name")
    assert planned.returncode == 1
    for name in ("alpha", "new"):  # a weight change, and a create
        assert plan.loc[name, "action"] == "invalid"
        error = plan.loc[name, "error"]
        assert "versionId or downloadUrl" in error and "server does not show" in error
    assert plan.loc["beta", "action"] == "unchanged"
    results = pd.read_csv(tmp_path / "weight.results.csv").set_index("name")
    assert created.returncode == 1 and posts == 0
    assert results.loc["new", "status"] == "invalid" and "versionId" in results.loc["new", "error"]


def test_status_of_an_empty_team_replaces_its_own_output_night_after_night(
    tmp_path, emulator_thread
):
    with emulator_thread() as emu:
        nights = [
            run_cli(
                "status",
                "--team-id",
                "nobody",
                "-o",
                "e.jsonl",
                "-q",
                cwd=tmp_path,
                env=cli_env(emu.url),
            )
            for _ in range(2)
        ]
    assert [n.returncode for n in nights] == [0, 0], nights[1].stderr
    assert "0 apps" in nights[1].stdout and (tmp_path / "e.jsonl").exists()
