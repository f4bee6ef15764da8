"""The library's own corners, as a notebook or a script meets them: an emulator kept
across cells, runs inside a running loop, a control used twice, a journal cut by a kill,
a full disk, a slow row among thousands that exist, the umask, workbooks, dependencies."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import errno
import os
import threading
import tomllib
from importlib import metadata

import anyio
import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults

from .helpers import KEY, ROOT, URL, cli_env, run_cli, wait_for


def frame(n, prefix="app"):
    return pd.DataFrame({"name": [f"{prefix}-{i}" for i in range(n)], "gpu_tier": "BASIC",
                         "model_url": URL})  # fmt: skip


def test_the_emulator_starts_in_one_cell_and_stops_in_another(tmp_path):
    emu = bulk.Emulator(api_key=KEY).start()  # cell 1
    results = bulk.run(frame(2), base_url=emu.url, api_key=emu.api_key, progress=False)  # cell 2
    assert [a["name"] for a in emu.apps()] == ["app-0", "app-1"]  # cell 3
    emu.stop()  # cell 4
    assert results.status.tolist() == ["created", "created"]
    with pytest.raises(RuntimeError, match=r"not running: call start\(\)"):
        emu.apps()
    emu.start()  # and again: a fresh emulator
    try:
        assert emu.apps() == []
    finally:
        emu.stop()


def test_a_failure_of_the_emulator_s_thread_is_raised(monkeypatch):
    from bulk.emulator import _background

    real = _background.serve

    @contextlib.asynccontextmanager
    async def failing_on_shutdown(**kwargs):
        async with real(**kwargs) as state:
            yield state
        raise OSError(errno.EADDRINUSE, "the socket could not be closed")

    monkeypatch.setattr(_background, "serve", failing_on_shutdown)
    emu = bulk.Emulator().start()
    with pytest.raises(RuntimeError, match=r"the emulator.s thread failed: .*could not be closed"):
        emu.stop()


def test_bulk_run_in_a_running_loop_lets_a_timeout_error_through(monkeypatch):
    def times_out(*args, **kwargs):
        raise TimeoutError("the disk took too long")

    monkeypatch.setattr("bulk._running.runner.prepare", times_out)
    raised: list[BaseException] = []

    async def cell():
        try:
            bulk.run(frame(1), dry_run=True, progress=False)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=asyncio.run, args=(cell(),), daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "bulk.run spun instead of raising"
    assert len(raised) == 1 and isinstance(raised[0], TimeoutError)


def test_one_control_serves_a_run_after_an_interrupted_one(tmp_path, emulator_thread):
    control = bulk.RunControl()
    out = tmp_path / "r.csv"
    with emulator_thread(Faults(latency=0.05)) as emu:

        def interrupt_soon():
            wait_for(lambda: len(emu.record.created) >= 3, what="a few apps")
            control.interrupt()

        threading.Thread(target=interrupt_soon, daemon=True).start()
        options = {"base_url": emu.url, "api_key": KEY, "concurrency": 2, "progress": False}
        with pytest.raises(bulk.Interrupted):
            bulk.run(frame(40), output=out, control=control, **options)
        finished = bulk.run(frame(40), output=out, control=control, resume=True, **options)
        held = sorted(emu.names())
        counts = set(emu.record.created.values())
    assert finished.status.tolist() == ["created"] * 40
    assert finished.attrs["report"].stopped is None
    assert held == sorted(f"app-{i}" for i in range(40)) and counts == {1}


@pytest.mark.anyio
async def test_two_waiters_on_one_control_are_both_woken():
    control = bulk.RunControl()
    woken: list[int] = []

    async def wait(n):
        await control.wait_interrupted()
        woken.append(n)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(wait, 1)
            tasks.start_soon(wait, 2)
            await anyio.wait_all_tasks_blocked()
            control.interrupt()
    assert sorted(woken) == [1, 2]


def test_resume_reads_a_journal_cut_inside_a_multibyte_character(tmp_path, emulator_thread):
    pd.DataFrame({"name": ["Café-1", "Café-2", "Café-3"], "gpu_tier": "BASIC",
                  "model_url": URL}).to_csv(tmp_path / "m.csv", index=False)  # fmt: skip
    journal = tmp_path / "m.results.journal.jsonl"
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        assert run_cli("create", "m.csv", cwd=tmp_path, env=env).returncode == 0
        lines = journal.read_bytes().splitlines(keepends=True)
        assert b'"event":"end"' in lines[-1]
        # The kill came while the last line was being written, inside the "é" of a name.
        cut = b'{"event":"intent","row":3,"team":null,"name":"Caf' + "é".encode()[:1]
        journal.write_bytes(b"".join(lines[:-1]) + cut)
        done = run_cli("create", "m.csv", "--resume", cwd=tmp_path, env=env)
        created = dict(emu.record.created)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(created.values()) == [1, 1, 1]
    table = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
    assert table.status.tolist() == ["created"] * 3


def test_a_full_disk_while_journaling_still_leaves_the_results(
    tmp_path, emulator_thread, monkeypatch
):
    from bulk._running.journal import Journal

    real, sent = Journal.intent, []

    def intent(self, row):
        if len(sent) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        sent.append(row.name)
        real(self, row)

    monkeypatch.setattr(Journal, "intent", intent)
    frame(6).to_csv(tmp_path / "m.csv", index=False)
    with emulator_thread() as emu:
        args = ("create", "m.csv", "--concurrency", "1")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        held = {a["name"]: a["id"] for a in emu.apps["user_emulated"].values()}
    assert done.returncode != 0 and "No space left on device" in done.stderr
    assert "Traceback" not in done.stderr
    table = pd.read_csv(tmp_path / "m.results.csv", dtype=str, keep_default_na=False)
    created = table[table.status == "created"]
    assert dict(zip(created.name, created.app_id, strict=True)) == held
    assert sorted(held) == ["app-0", "app-1", "app-2"]
    assert set(table.status[3:]) == {"skipped"}


def test_a_slow_row_among_rows_that_exist_keeps_the_reorder_buffer_bounded(
    tmp_path, emulator_thread, monkeypatch
):
    from bulk._running import ordered as _ordered

    monkeypatch.setattr(_ordered, "WINDOW", 20)
    real_add, peak = _ordered.OrderedResults.add, [0]

    def add(self, result):
        real_add(self, result)
        peak[0] = max(peak[0], len(self._pending))

    monkeypatch.setattr(_ordered.OrderedResults, "add", add)
    with emulator_thread(Faults(latency=0.3)) as emu:
        for i in range(1, 400):  # a re-run: every app but the first exists already
            emu.store("user_emulated", {"name": f"app-{i}", "configuration": {
                "gpu_tier": "BASIC"}, "workflow": {"model_url": URL}})  # fmt: skip
        results = bulk.run(frame(400), base_url=emu.url, api_key=KEY, progress=False)
        posts = emu.record.posts
    assert posts == 1
    assert results.status.tolist() == ["created"] + ["exists"] * 399
    assert peak[0] <= 20 + 8  # the window, and what the workers held when it filled


def test_results_are_written_with_the_umask_never_setting_it(tmp_path, monkeypatch):
    saved = os.umask(0o027)
    try:

        def no_umask(mask):
            raise AssertionError("the process-wide umask was set during the run")

        monkeypatch.setattr(os, "umask", no_umask)
        bulk.run(frame(2), dry_run=True, progress=False, output=tmp_path / "r.dry-run.csv")
    finally:
        monkeypatch.undo()
        os.umask(saved)
    assert (tmp_path / "r.dry-run.csv").stat().st_mode & 0o777 == 0o640


def test_a_workbook_is_opened_once_and_closed(tmp_path, monkeypatch):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["name", "gpu_tier", "model_url"])
    book.active.append(["a", "BASIC", URL])
    book.create_sheet("Other").append(["name", "gpu_tier"])
    book.save(tmp_path / "m.xlsx")
    real, opened, closed = openpyxl.load_workbook, [], []

    def load_workbook(*args, **kwargs):
        book = real(*args, **kwargs)
        opened.append(book)
        close = book.close
        book.close = lambda: (closed.append(book), close())[1]
        return book

    monkeypatch.setattr(openpyxl, "load_workbook", load_workbook)
    results = bulk.run(tmp_path / "m.xlsx", dry_run=True, progress=False)
    assert results.status.tolist() == ["valid"]
    assert len(opened) == 1 and closed == opened
    with pytest.raises(bulk.ManifestError, match="has no 'model_url' column"):
        bulk.run(tmp_path / "m.xlsx", dry_run=True, progress=False, sheet="Other")
    assert len(opened) == 2 and closed == opened


def test_every_library_bulk_imports_is_declared():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("[")[0].strip().lower() for d in declared["dependencies"]}
    names |= {d.split(">")[0].strip().lower() for d in declared["optional-dependencies"]["excel"]}
    distributions = metadata.packages_distributions()
    imported = set()
    for path in (ROOT / "bulk").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m in distributions and m != "bulk"}
    undeclared = {m for m in third_party if not {d.lower() for d in distributions[m]} & names}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
