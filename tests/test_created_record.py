"""bulk's record of the apps it created is found by target, not by output path: the same
manifest run again with another ``-o``, or with the server's URL spelt another way, within
a listing's lag and against a server that ignores Idempotency-Key, creates nothing twice."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from bulk._running import created
from bulk._running.created import CreatedIds
from bulk._running.locks import server_of
from bulk.emulator import Faults

from .helpers import KEY, cli_env, manifest, run_cli

LAG = Faults(list_lag=30, idempotency=False)


def results(path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(frame.name, frame.app_id, strict=True)), set(frame.status)


def test_another_output_or_url_spelling_within_the_lag_creates_nothing_twice(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 3)
    with emulator_thread(LAG) as emu:
        env = cli_env(emu.url)
        first = run_cli("create", "m.csv", "-q", "-o", "a.results.csv", cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        made, _ = results(tmp_path / "a.results.csv")
        dated = run_cli("create", "m.csv", "-q", "-o", "b.results.csv", cwd=tmp_path, env=env)
        assert dated.returncode == 0, dated.stderr
        assert results(tmp_path / "b.results.csv") == (made, {"exists"})
        spelt = emu.url.replace("127.0.0.1", "localhost") + "/"
        other = run_cli(
            "create", "m.csv", "-q", "-o", "c.results.csv", "--base-url", spelt,
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert other.returncode == 0, other.stderr
        assert results(tmp_path / "c.results.csv") == (made, {"exists"})
        assert emu.record.posts == 3 and emu.record.duplicates() == {}
    found = list(CreatedIds(emu.url, "x").path(None).parent.iterdir())  # the user's cache
    assert len(found) == 1 and stat.S_IMODE(os.stat(found[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(found[0].parent).st_mode) == 0o700
    text = found[0].read_text()
    assert KEY not in text and sorted(made.values()) == sorted(
        line.split('"id": "')[1].split('"')[0] for line in text.splitlines()
    )


def test_rows_the_listing_shows_never_read_the_record(tmp_path, emulator_thread, monkeypatch):
    """The nightly re-run of a manifest whose apps all exist costs no record at all."""
    manifest(tmp_path, 5)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", "-q", cwd=tmp_path, env=env).returncode == 0
        reads: list[object] = []
        monkeypatch.setattr(CreatedIds, "_load", lambda self, team: reads.append(team) or {})
        again = run_cli("create", "m.csv", "-q", "-o", "n.results.csv", cwd=tmp_path, env=env)
        assert again.returncode == 0 and emu.record.posts == 5
    assert reads == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("http://localhost:8080", "http://127.0.0.1:8080/"),
        ("HTTP://LocalHost:8080/v1/", "http://[::1]:8080/v1"),
        ("https://api.example.com", "https://API.example.com:443/"),
    ],
)
def test_one_server_however_its_url_is_spelt(one, other):
    assert server_of(one) == server_of(other)


def test_servers_that_differ_stay_apart():
    assert server_of("http://127.0.0.1:8080") != server_of("http://127.0.0.1:8081")
    assert server_of("http://example.com") != server_of("https://example.com")


def test_entries_past_the_retention_are_dropped_when_a_run_next_writes():
    now = [1_000_000.0]
    record = CreatedIds("http://127.0.0.1:9", "fp", clock=lambda: now[0])

    record.add("t", "old", "app_1")
    record.close()
    now[0] += created.RETENTION + 1
    later = CreatedIds("http://localhost:9", "fp", clock=lambda: now[0])
    assert later.ids("t", "old") == []  # past the retention: not a candidate
    later.add("t", "new", "app_2")
    later.close()
    text = later.path("t").read_text()
    assert "app_1" not in text and "app_2" in text
    assert CreatedIds("http://localhost:9", "other", clock=lambda: now[0]).ids("t", "new") == []
