"""No symbolic link is followed into a file the user did not name, and the locks are
portable, private and cleaned up: a planted link, a lock folder another user could
use, a run that leaves its locks behind. Each through the real CLI, with the server's
side checked: nothing was sent."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from bulk._running.locks import lock_folder, lock_teams, server_of

from .helpers import ROOT, cli_env, manifest, run_cli


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The user's cache folder, where the lock folder goes: a fresh one per test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def create(tmp_path, emu, *args):
    env = cli_env(emu.url, XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"])
    return run_cli("create", "m.csv", *args, cwd=tmp_path, env=env)


def test_import_bulk_needs_no_fcntl():
    """Windows has no fcntl: importing bulk there must work (simulated by hiding it)."""
    code = "import sys; sys.modules['fcntl'] = None; import bulk, bulk.cli; print(bulk.run)"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    sources = (ROOT / "bulk").rglob("*.py")
    assert not [p for p in sources if "import fcntl" in p.read_text(encoding="utf-8")]


@pytest.mark.skipif(os.name != "posix", reason="modes and owners are POSIX's")
def test_a_run_keeps_its_locks_private_and_removes_them(tmp_path, emulator_thread, cache):
    manifest(tmp_path, 3)
    with lock_teams("http://127.0.0.1:1", ["team_a", ""]):
        folder = lock_folder()
        assert len(list(folder.iterdir())) == 2  # held while a run writes
    assert folder.is_relative_to(cache) and oct(folder.stat().st_mode & 0o777) == "0o700"
    assert list(folder.iterdir()) == []
    with emulator_thread() as emu:
        done = create(tmp_path, emu)
        assert done.returncode == 0 and len(emu.apps[next(iter(emu.apps))]) == 3
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if "lock" in p.name) == []


@pytest.mark.skipif(os.name != "posix", reason="modes and owners are POSIX's")
@pytest.mark.parametrize("planted", ["open to others", "a symbolic link", "another user's"])
def test_a_lock_folder_others_could_use_is_refused(tmp_path, emulator_thread, cache, planted):
    manifest(tmp_path, 3)
    folder = cache / "rungen-bulk" / "locks"
    folder.parent.mkdir(parents=True)
    if planted == "a symbolic link":
        (tmp_path / "theirs").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "theirs")
    else:
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o777 if planted == "open to others" else 0o700)
    if planted == "another user's":
        if os.geteuid() != 0:
            pytest.skip("giving a folder to another user needs root")
        os.chown(folder, 65534, 65534)
    with emulator_thread() as emu:
        done = create(tmp_path, emu)
        assert emu.record.posts == 0
    assert done.returncode == 2
    assert f"Error: the lock folder {str(folder)!r}" in done.stderr
    assert not (tmp_path / "theirs").exists() or list((tmp_path / "theirs").iterdir()) == []


@pytest.mark.parametrize("name", ["m.results.journal.jsonl", "m.results.journal.1.jsonl"])
def test_a_symlink_planted_at_the_journal_is_refused(tmp_path, emulator_thread, cache, name):
    manifest(tmp_path, 3)
    (tmp_path / "elsewhere").mkdir()
    stolen = tmp_path / "elsewhere" / "stolen.jsonl"
    journal = tmp_path / name
    journal.symlink_to(stolen)  # dangling: the run would create its target
    with emulator_thread() as emu:
        done = create(tmp_path, emu)
        assert emu.record.posts == 0 and not emu.apps
    assert done.returncode == 2
    assert f"the journal {name!r} is a symbolic link" in done.stderr
    assert not stolen.exists() and journal.is_symlink()


@pytest.mark.parametrize("lock", ["journal", "team"])
def test_a_symlink_planted_at_a_lock_file_is_refused(tmp_path, emulator_thread, cache, lock):
    manifest(tmp_path, 3)
    target = tmp_path / "elsewhere.txt"
    with emulator_thread() as emu:
        if lock == "journal":
            path, shown = tmp_path / "m.results.journal.jsonl.lock", "m.results.journal.jsonl.lock"
        else:
            digest = hashlib.sha256(f"{server_of(emu.url)}\x00".encode()).hexdigest()[:24]
            path = lock_folder() / f"{digest}.lock"
            shown = str(path)
        path.symlink_to(target)
        done = create(tmp_path, emu)
        assert emu.record.posts == 0 and not emu.apps
    assert done.returncode == 2
    assert f"the lock file {shown!r} is a symbolic link" in done.stderr
    assert not target.exists()


@pytest.mark.skipif(os.name != "posix", reason="XDG_CACHE_HOME is Linux's")
def test_a_cache_folder_that_cannot_be_written_says_what_to_do(tmp_path, emulator_thread, cache):
    manifest(tmp_path, 3)
    cache.write_text("a file, not a folder")
    with emulator_thread() as emu:
        done = create(tmp_path, emu)
        assert emu.record.posts == 0
    assert done.returncode == 2
    assert "cannot create the lock folder" in done.stderr and "XDG_CACHE_HOME" in done.stderr
