"""Issue 14, point 5: durable before sent. Each intent is fsynced before its request
goes out, by group commit (far fewer fsyncs than requests); the results file and the
rotated journal are fsynced before their rename, and their directory after it."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd

import bulk
from bulk._shared import durable as _durable
from bulk.emulator import Faults

from .helpers import KEY, URL


class Disk:
    """Counts the fsyncs, by file, and plays a disk where an fsync takes 5 ms."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []  # (file, its size when it was fsynced)
        self._lock = threading.Lock()
        self._real = _durable.fsync

    def fsync(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        self._real(fd)
        time.sleep(0.005)
        name = os.path.realpath(f"/proc/self/fd/{fd}")
        with self._lock:
            self.events.append((name, size))

    def synced(self, path) -> int:
        """How many bytes of ``path`` are known to be on disk."""
        with self._lock:
            return max((size for name, size in self.events if name == str(path)), default=0)

    def names(self) -> list[str]:
        with self._lock:
            return [os.path.basename(name) for name, _ in self.events]


def test_each_intent_is_on_disk_before_its_post_with_far_fewer_fsyncs(
    tmp_path, emulator_thread, monkeypatch
):
    disk = Disk()
    monkeypatch.setattr(_durable, "fsync", disk.fsync)
    pd.DataFrame(
        {"name": [f"app-{i:03d}" for i in range(300)], "gpu_tier": "BASIC", "model_url": URL}
    ).to_csv(tmp_path / "m.csv", index=False)
    journal = os.path.realpath(tmp_path / "r.journal.jsonl")
    early: list[str] = []

    def on_post(headers) -> None:  # in the server's thread, as the POST arrives
        key = headers["Idempotency-Key"].encode()
        text = Path(journal).read_bytes()
        at = text.find(key)
        end = text.index(b"\n", at) + 1 if at >= 0 else len(text) + 1
        if end > disk.synced(journal):
            early.append(key.decode())

    with emulator_thread(Faults(latency=0.005, idempotency=False)) as emu:
        emu.on_post = on_post
        results = bulk.run(
            tmp_path / "m.csv",
            base_url=emu.url,
            api_key=KEY,
            concurrency=16,
            progress=False,
            output=tmp_path / "r.csv",
        )
        posts = emu.record.posts
    assert (results.status == "created").all() and posts == 300
    assert early == []  # every POST found its intent on disk
    syncs = sum(name == journal for name, _ in disk.events)
    assert 1 <= syncs <= posts / 4, (syncs, posts)


def test_results_and_rotated_journal_are_fsynced_before_the_rename_and_the_folder_after(
    tmp_path, emulator_thread, monkeypatch
):
    pd.DataFrame({"name": ["a", "b"], "gpu_tier": "BASIC", "model_url": URL}).to_csv(
        tmp_path / "m.csv", index=False
    )
    disk = Disk()
    with emulator_thread(Faults(idempotency=False)) as emu:
        run = {"base_url": emu.url, "api_key": KEY, "progress": False, "output": tmp_path / "r.csv"}
        bulk.run(tmp_path / "m.csv", **run)
        monkeypatch.setattr(_durable, "fsync", disk.fsync)
        again = bulk.run(tmp_path / "m.csv", **run)
    assert (again.status == "exists").all()
    names, folder = disk.names(), tmp_path.name
    # The finished journal is put on disk, renamed aside, then its folder synced.
    assert names[:2] == ["r.journal.jsonl", folder], names
    assert (tmp_path / "r.journal.1.jsonl").exists()
    # The results: the temporary file on disk, then the rename, then the folder.
    tmp = next(i for i, n in enumerate(names) if n.startswith(".r.csv.") and n.endswith(".tmp"))
    assert names[tmp + 1] == folder, names
