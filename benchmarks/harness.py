"""What the benchmark runs on: emulators in processes of their own, manifests, the bare
loop bulk is compared with, and measures of a child process (wall time, CPU, peak RSS).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

KEY = "bench-key-0123456789"
MODEL = "https://huggingface.co/black-forest-labs/FLUX.1-dev"
RECORD_PATH = "/_emulator/record"


@contextmanager
def emulator(*flags: str) -> Iterator[str]:
    """A fresh emulator process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulk", "serve", "--port", "0", "--api-key", KEY, *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split(" at ")[1].strip()
    finally:
        proc.terminate()
        proc.wait(30)


def record(url: str) -> dict:
    """What the emulator received: POST arrival times, answers, statuses, duplicates."""
    with urllib.request.urlopen(url + RECORD_PATH, timeout=60) as answer:
        return json.load(answer)


def loras(i: int, per_row: int) -> list[dict]:
    """LoRAs that differ from row to row, as a real catalogue's would."""
    return [
        {
            "id": str(100_000 + per_row * i + k),
            "versionId": str(200_000 + per_row * i + k),
            "name": f"lora-{per_row * i + k}",
            "weight": 0.8,
            "downloadUrl": f"https://civitai.com/api/download/models/{200_000 + per_row * i + k}",
        }
        for k in range(per_row)
    ]


def body(i: int, per_row: int) -> dict:
    return {
        "name": f"app-{i:07d}",
        "configuration": {"gpu_tier": "STANDARD", "active_workers": 1},
        "workflow": {"model_url": MODEL, "tools": {"loras": loras(i, per_row)}},
    }


def write_manifest(path: Path, rows: int, *, per_row: int = 2) -> Path:
    """A CSV manifest, LoRAs as JSON cells; and beside it the same rows as the bodies the
    bare loop posts (``<stem>.bodies.jsonl``)."""
    if path.exists():
        return path
    with path.open("w") as out, path.with_suffix(".bodies.jsonl").open("w") as bodies:
        out.write("name,gpu_tier,model_url,active_workers,loras\n")
        for i in range(rows):
            cell = json.dumps(loras(i, per_row)).replace('"', '""')
            out.write(f'app-{i:07d},STANDARD,{MODEL},1,"{cell}"\n')
            bodies.write(json.dumps(body(i, per_row), separators=(",", ":")) + "\n")
    return path


@dataclass
class Measure:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child process
    rss_mib: float  # peak resident set size
    returncode: int
    stdout: str
    sent: list[float] = field(default_factory=list)  # when bulk sent each row, its journal says
    report: dict[str, Any] = field(default_factory=dict)  # bulk's --summary-json


def measure(cmd: list[str], *, env: dict[str, str] | None = None) -> Measure:
    """Runs ``cmd`` to its end; its own CPU time and peak RSS, from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return Measure(wall, cpu, usage.ru_maxrss / 1024, proc.returncode, stdout)


# bulk with every fsync a no-op: what the durability costs, measured side by side.
NO_FSYNC = (
    "import runpy, bulk._shared.durable as d; d.fsync = lambda fd: None; "
    "runpy.run_module('bulk', run_name='__main__')"
)


def bulk_create(url: str, manifest: Path, *flags: str, fsync: bool = True) -> Measure:
    out = manifest.with_name(f"{manifest.stem}.{time.monotonic_ns()}.results.csv")
    journal = out.with_name(f"{out.stem}.journal.jsonl")
    summary = out.with_name(f"{out.stem}.summary.json")
    bulk = ["-m", "bulk"] if fsync else ["-c", NO_FSYNC]
    command = [sys.executable, *bulk, "create", str(manifest), "-q", "-o", str(out)]
    try:
        run = measure(
            [*command, "--summary-json", str(summary), *flags],
            env={"RUNGEN_API_KEY": KEY, "RUNGEN_BASE_URL": url},
        )
        events = (json.loads(line) for line in journal.read_text().splitlines())
        run.sent = [e["at"] for e in events if e["event"] == "intent"]
        run.report = json.loads(summary.read_text())  # bulk's own account of the run
        return run
    finally:
        for path in (out, journal, summary):
            path.unlink(missing_ok=True)


def bare(url: str, manifest: Path, concurrency: int) -> Measure:
    bodies = manifest.with_suffix(".bodies.jsonl")
    script = Path(__file__)
    return measure([sys.executable, str(script), url, str(bodies), str(concurrency)])


def _seconds(retry_after: str) -> float:
    try:
        return float(retry_after)
    except ValueError:
        return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())


async def bare_loop(url: str, bodies: Path, concurrency: int) -> None:
    """The least a script could do: one session, N workers, one POST per prepared body,
    and each worker sleeping out its own 429s. No validation, retries or results."""
    import aiohttp

    payloads = iter(line.encode() for line in bodies.read_text().splitlines())
    headers = {"x-api-key": KEY, "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        for payload in payloads:
            while True:
                async with session.post(f"{url}/app", data=payload, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 429:
                        break
                    await asyncio.sleep(_seconds(answer.headers.get("Retry-After", "1")))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


if __name__ == "__main__":  # the bare loop, in a process of its own
    asyncio.run(bare_loop(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
