"""Streaming from end to end: manifests read in chunks, rows put back in manifest order
through a bounded buffer, every intent on disk before its POST, memory flat in size."""

from __future__ import annotations

import json
import os
import tracemalloc

import anyio
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bulk
from bulk._output.results import Result
from bulk._reading import formats
from bulk._reading.manifest import ManifestReader
from bulk._running import journal, ordered
from bulk._running.options import RunOptions
from bulk._running.ordered import OrderedResults
from bulk._running.runner import execute
from bulk._validating.spool import Spool
from bulk.emulator import Faults

from .helpers import KEY, URL


def lora(i):
    return {
        "id": str(1000 + i),
        "versionId": str(2000 + i),
        "name": f"lora-{i}",
        "weight": 0.5,
        "downloadUrl": f"https://civitai.com/api/download/models/{2000 + i}",
    }


def frame(n, *, bad=(), repeat=None):
    """``n`` rows; rows in ``bad`` have an unknown GPU tier; ``repeat=(a, b)``: row b
    takes row a's name."""
    names = [f"app-{i:05d}" for i in range(1, n + 1)]
    if repeat:
        names[repeat[1] - 1] = names[repeat[0] - 1]
    return pd.DataFrame(
        {
            "name": names,
            "gpu_tier": ["HUGE" if i in bad else "BASIC" for i in range(1, n + 1)],
            "model_url": URL,
            "loras": [json.dumps([lora(i)]) for i in range(1, n + 1)],
        }
    )


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(formats, "CHUNK_ROWS", 7)


def write(path, data):
    if path.suffix == ".csv":
        data.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(data, preserve_index=False), path)
    else:
        data.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl", "DataFrame"])
def test_every_format_is_read_in_chunks(tmp_path, small_chunks, suffix):
    data = frame(30)
    source = data if suffix == "DataFrame" else write(tmp_path / f"m{suffix}", data)
    chunks = list(ManifestReader(source))
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    assert [r.cells["name"] for c in chunks for r in c] == data["name"].tolist()


def test_a_dry_run_in_chunks_keeps_order_and_finds_repeats_across_chunks(tmp_path, small_chunks):
    path = write(tmp_path / "m.csv", frame(30, bad={9}, repeat=(3, 20)))
    result = bulk.run(path, dry_run=True, output=tmp_path / "m.dry-run.csv", progress=False)
    assert result["row"].tolist() == list(range(1, 31))
    invalid = result[result["status"] == "invalid"].set_index("row")["error"]
    assert list(invalid.index) == [9, 20]
    assert "gpu_tier" in invalid[9]
    assert "repeats row 3" in invalid[20]
    on_disk = pd.read_csv(tmp_path / "m.dry-run.csv")
    assert on_disk["row"].tolist() == list(range(1, 31))
    assert json.loads(result.attrs["first_body"])["name"] == "app-00001"


def test_rows_that_finish_out_of_order_come_back_in_manifest_order(
    tmp_path, small_chunks, monkeypatch, emulator_thread
):
    """Retried rows finish late; a reorder window of 4 makes the workers wait for them."""
    monkeypatch.setattr(ordered, "WINDOW", 4)
    most_waiting = 0
    add = OrderedResults.add

    def spy(self, result):
        nonlocal most_waiting
        add(self, result)
        most_waiting = max(most_waiting, len(self._pending))

    monkeypatch.setattr(OrderedResults, "add", spy)
    path = write(tmp_path / "m.csv", frame(40))
    with emulator_thread(Faults(error_rate=0.25, seed=3)) as emu:
        result = bulk.run(
            path,
            output=tmp_path / "r.csv",
            base_url=emu.url,
            api_key=KEY,
            progress=False,
            timeout=1,
        )
        apps = {a["name"]: a["id"] for a in emu.apps["user_emulated"].values()}
        record = emu.record
    assert record.statuses[503] + record.statuses[500] > 0  # some rows were retried
    assert not record.duplicates()
    on_disk = pd.read_csv(tmp_path / "r.csv")
    assert on_disk["row"].tolist() == list(range(1, 41))
    assert (on_disk["status"] == "created").all()
    assert dict(zip(on_disk["name"], on_disk["app_id"], strict=True)) == apps
    assert result["app_id"].tolist() == on_disk["app_id"].tolist()
    assert most_waiting <= 4 + 8  # the window, plus the rows in flight when it filled


def test_every_intent_is_on_disk_before_its_post_arrives(tmp_path, emulator_thread):
    path = write(tmp_path / "m.csv", frame(40))
    out = tmp_path / "r.csv"
    keys_seen, missing = [], []

    def check(headers):
        key = headers["Idempotency-Key"]
        lines = (tmp_path / "r.journal.jsonl").read_text().splitlines()
        # A line being written by another row meanwhile may be cut short: not this one's.
        intents = {json.loads(line).get("key") for line in lines if line.endswith("}")}
        keys_seen.append(key)
        if key not in intents:
            missing.append(key)

    with emulator_thread() as emu:
        emu.on_post = check
        bulk.run(path, output=out, base_url=emu.url, api_key=KEY, concurrency=8, progress=False)
    assert len(keys_seen) == 40 and not missing


def test_journal_lines_go_out_in_few_writes(tmp_path, monkeypatch, emulator_thread):
    """One write per POST (its intent, with the results that were ready), not one per line."""
    writes = 0
    real_write = os.write

    def counting(fd, data):
        nonlocal writes
        writes += b'"event":' in data  # the journal's (the record of created ids has its own)
        return real_write(fd, data)

    monkeypatch.setattr(journal.os, "write", counting)
    path = write(tmp_path / "m.csv", frame(40))
    with emulator_thread() as emu:
        bulk.run(path, output=tmp_path / "r.csv", base_url=emu.url, api_key=KEY, progress=False)
    lines = (tmp_path / "r.journal.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 40 + 40 + 1  # start, intents, results, end
    assert writes <= 1 + 40 + 1


def peak_memory(path):
    async def dry_run():
        outcome = await execute(path, RunOptions(dry_run=True, progress=False))
        outcome.close()

    tracemalloc.start()
    try:
        anyio.run(dry_run)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_flat_in_the_manifest_size(tmp_path, monkeypatch):
    """Ten times the rows cost far less than the rows themselves: only a name per row is
    kept (to find repeats), not its body, payload or result."""
    monkeypatch.setattr(formats, "CHUNK_ROWS", 500)
    monkeypatch.setattr(ordered, "_BATCH", 500)
    small = write(tmp_path / "small.csv", frame(2_000))
    large = write(tmp_path / "large.csv", frame(20_000))
    extra = peak_memory(large) - peak_memory(small)
    assert extra < 18_000 * 250, f"{extra / 18_000:.0f} bytes per extra row"


def test_a_spool_reads_back_what_was_written_even_between_writes():
    with Spool() as spool:
        spool.append([(1, "a"), (2, "b")])
        assert list(spool.batches()) == [[(1, "a"), (2, "b")]]
        spool.append([(3, b"\x00")])
        spool.append([])
        assert list(spool.batches()) == [[(1, "a"), (2, "b")], [(3, b"\x00")]]
        assert spool.count == 3


@pytest.mark.anyio
async def test_the_reorder_buffer_holds_workers_back_until_the_first_row_is_done():
    results = OrderedResults(window=2)
    for row in (2, 3):
        results.take(row)
        results.add(Result(row, f"r{row}", "created"))
    results.take(4)
    waited = anyio.Event()

    async def worker():
        await results.room()
        waited.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(worker)
        await anyio.wait_all_tasks_blocked()
        assert not waited.is_set()  # rows 2 to 4 are out while row 1 is not done
        results.add(Result(1, "r1", "created"))
        with anyio.fail_after(5):
            await waited.wait()
    results.add(Result(4, "r4", "created"))
    assert [r[0] for b in results.batches() for r in b] == [1, 2, 3, 4]
    results.close()
