"""A run that sent no request (a server out of reach, a key refused) neither replaces a
real run's results nor pushes its journal out: against a server that ignores
Idempotency-Key and whose listings lag, the run after it creates nothing twice."""

from __future__ import annotations

import pandas as pd

from bulk._running.journal import read_journal
from bulk.emulator import Faults

from .helpers import cli_env, manifest, run_cli

LAG = Faults(list_lag=30, idempotency=False)


def ids_in(path):
    results = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(results.name, results.app_id, strict=True))


def created_in(journal):
    return {name: p.app_id for (_, name), p in read_journal(journal).rows.items() if p.app_id}


def created_two(tmp_path, emu):
    """A real run that creates two apps: the environment, and the ids it gave."""
    manifest(tmp_path, 2)
    env = cli_env(emu.url)
    assert run_cli("create", "m.csv", "-q", cwd=tmp_path, env=env).returncode == 0
    made = ids_in(tmp_path / "m.results.csv")
    assert len(set(made.values()) - {""}) == 2
    return env, made


def test_a_run_that_reached_no_server_keeps_the_results_and_the_journal(tmp_path, emulator_thread):
    with emulator_thread(LAG) as emu:
        env, made = created_two(tmp_path, emu)
        away = ["--base-url", "http://127.0.0.1:1", "--connect-timeout", "1", "--max-retries", "0"]
        for _ in range(2):  # twice: the second must not rotate the first run's journal out
            lost = run_cli("create", "m.csv", "-q", *away, cwd=tmp_path, env=env)
            assert lost.returncode == 3, lost.stderr
            assert "results not written: this run sent no request" in lost.stderr
            assert "kept as it was" in lost.stdout + lost.stderr
            assert ids_in(tmp_path / "m.results.csv") == made
        assert created_in(tmp_path / "m.results.journal.1.jsonl") == made
        again = run_cli("create", "m.csv", "-q", cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert emu.record.posts == 2 and emu.record.duplicates() == {}
        assert ids_in(tmp_path / "m.results.csv") == made


def test_a_refused_key_twice_leaves_the_ids_for_delete(tmp_path, emulator_thread):
    with emulator_thread(LAG) as emu:
        env, made = created_two(tmp_path, emu)
        wrong = {**env, "RUNGEN_API_KEY": "not-the-key-0000"}
        for _ in range(2):
            refused = run_cli("create", "m.csv", "-q", cwd=tmp_path, env=wrong)
            assert refused.returncode == 3, refused.stderr
            assert ids_in(tmp_path / "m.results.csv") == made
        assert created_in(tmp_path / "m.results.journal.1.jsonl") == made
        gone = run_cli("delete", "m.results.csv", "--yes", "-q", cwd=tmp_path, env=env)
        assert gone.returncode == 0, gone.stderr + gone.stdout
        assert emu.apps.get("user_emulated", {}) == {}
        assert emu.record.posts == 2


def test_a_run_that_sends_nothing_replaces_its_journal_without_rotating(tmp_path, emulator_thread):
    """Every app there already: the run ends, having sent nothing; the journal of the run
    that created them stays the one beside it."""
    manifest(tmp_path, 3)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", "-q", cwd=tmp_path, env=env).returncode == 0
        made = created_in(tmp_path / "m.results.journal.jsonl")
        for _ in range(2):
            done = run_cli("create", "m.csv", "-q", "-o", "m.results.csv", cwd=tmp_path, env=env)
            assert done.returncode == 0, done.stderr
        assert emu.record.posts == 3
    assert created_in(tmp_path / "m.results.journal.1.jsonl") == made
    assert created_in(tmp_path / "m.results.journal.jsonl") == {}
