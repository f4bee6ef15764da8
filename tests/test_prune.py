"""plan --prune and apply --prune end to end against the emulator, and their guards."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import bulk

from .helpers import KEY, URL, cli_env, run_cli

TEAM = "t1"


def seed(emu):
    """The team's live apps: two the manifest keeps, two it dropped (with workers)."""
    ids = {}
    for name, workers in (("keep", 2), ("idle", 0), ("dropped", 1), ("gone", 3)):
        body = {
            "name": name,
            "configuration": {"gpu_tier": "BASIC", "active_workers": workers},
            "workflow": {"model_url": URL},
        }
        ids[name] = emu.store(TEAM, body)["id"]
    emu.store("t2", {**body, "name": "elsewhere"})  # another team: never looked at
    return ids


def managed_manifest(tmp_path, names=("keep", "idle", "new"), tier="BASIC", name="m.csv"):
    path = tmp_path / name
    frame = pd.DataFrame({"name": list(names), "gpu_tier": tier, "model_url": URL})
    frame["active_workers"] = [2, 0, 0][: len(frame)]
    frame.to_csv(path, index=False)
    return path


def test_apply_prune_deletes_exactly_the_dropped_apps_each_at_0_workers(tmp_path, emulator_thread):
    with emulator_thread() as emu:
        ids = seed(emu)
        done = run_cli(
            "apply",
            str(managed_manifest(tmp_path)),
            "--team-id",
            TEAM,
            "--prune",
            "--yes",
            "-q",
            "--summary-json",
            "s.json",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        left = sorted(a["name"] for a in emu.apps[TEAM].values())
        deleted = list(emu.record.deleted)
        puts = list(emu.record.put_bodies)
    assert done.returncode == 0, done.stdout + done.stderr
    assert left == ["idle", "keep", "new"] and emu.apps["t2"]
    assert sorted(deleted) == sorted([(TEAM, ids["dropped"], 0), (TEAM, ids["gone"], 0)])
    assert puts == [{"configuration": {"active_workers": 0}}] * 2  # scaled first
    pruned = pd.read_csv(tmp_path / "m.results.pruned.csv")
    assert list(pruned.columns) == list(bulk.COLUMNS)
    assert dict(zip(pruned["name"], pruned["status"], strict=True)) == {
        "dropped": "deleted",
        "gone": "deleted",
    }
    assert set(pruned["app_id"]) == {ids["dropped"], ids["gone"]}
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["pruned"] == {"deleted": 2} and summary["paths"]["pruned"].endswith(
        "m.results.pruned.csv"
    )
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert sorted(results["status"]) == ["created", "unchanged", "unchanged"]


def test_plan_lists_unmanaged_apps_and_prune_makes_them_deletes(tmp_path, emulator_thread):
    with emulator_thread() as emu:
        seed(emu)
        env = cli_env(emu.url)
        path = str(managed_manifest(tmp_path, names=("keep", "idle")))
        plain = run_cli(
            "plan", path, "--team-id", TEAM, "--detailed-exitcode", cwd=tmp_path, env=env
        )
        pruning = run_cli(
            "plan",
            path,
            "--team-id",
            TEAM,
            "--prune",
            "--detailed-exitcode",
            cwd=tmp_path,
            env=env,
        )
        writes = emu.record.posts + emu.record.puts + emu.record.deletes
    assert plain.returncode == 0, plain.stderr  # unmanaged apps are no change
    assert "2 unchanged, 2 unmanaged" in plain.stdout
    assert pruning.returncode == 4, pruning.stderr
    assert "2 unchanged, 2 delete" in pruning.stdout
    assert "active workers: 6 now, 2 once applied" in pruning.stdout
    assert "dropped" in pruning.stdout and "gone" in pruning.stdout and writes == 0


def _refused(tmp_path, emu, path, *flags):
    done = run_cli(
        "apply",
        str(path),
        "--team-id",
        TEAM,
        "--prune",
        "-q",
        *flags,
        cwd=tmp_path,
        env=cli_env(emu.url),
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert emu.record.posts == emu.record.puts == emu.record.deletes == 0
    assert len(emu.apps[TEAM]) == 4 and not (tmp_path / "m.results.pruned.csv").exists()
    return done.stderr


@pytest.mark.parametrize(
    ("names", "tier", "flags", "said"),
    [
        (("keep", "idle", "new"), "BASIC", (), "not on a terminal; pass --yes"),
        (("keep", "idle", "new"), "NOPE", ("--yes",), "all 3 rows of it are invalid"),
        ((), "BASIC", ("--yes",), "has no row for it"),
        (
            ("keep", "idle", "new"),
            "BASIC",
            ("--yes", "--max-deletes", "1"),
            "prune 2 apps ('dropped', 'gone')",
        ),
    ],
    ids=["no-yes", "all-invalid", "no-row", "max-deletes"],
)
def test_each_prune_guard_refuses_with_nothing_sent(
    tmp_path, emulator_thread, names, tier, flags, said
):
    with emulator_thread() as emu:
        seed(emu)
        stderr = _refused(tmp_path, emu, managed_manifest(tmp_path, names=names, tier=tier), *flags)
    assert said in stderr and "Traceback" not in stderr


def test_the_library_prunes_too(tmp_path, emulator_thread):
    with emulator_thread() as emu:
        ids = seed(emu)
        frame = bulk.apply(
            managed_manifest(tmp_path),
            team_id=TEAM,
            prune=True,
            base_url=emu.url,
            api_key=KEY,
            output=tmp_path / "r.csv",
            progress=False,
        )
        deleted = {app_id for _, app_id, _ in emu.record.deleted}
    assert deleted == {ids["dropped"], ids["gone"]}
    assert sorted(frame.attrs["pruned"]["status"]) == ["deleted", "deleted"]
    assert (tmp_path / "r.pruned.csv").exists()
