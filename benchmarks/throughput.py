"""Benchmark: bulk against a bare aiohttp loop, side by side on the same emulator.

    python benchmarks/throughput.py [--rows 3000] [--concurrency 8] [--limit 200]

The emulator runs in a process of its own, started afresh for each measurement. The bare
loop is the least a script could do: one session, N workers, one POST per row, and (on a
rate-limited server) each worker sleeping out its own 429s. Machines here are shared and
noisy, so the table reports ratios measured in the same run, not absolute speeds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from contextlib import contextmanager

import aiohttp
import pandas as pd

import bulk

KEY = "bench-key"


@contextmanager
def emulator(*flags: str):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulk", "serve", "--port", "0", "--api-key", KEY, *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc.stdout.readline().split(" at ")[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [f"bench-{i:06d}" for i in range(rows)],
            "gpu_tier": "STANDARD",
            "model_url": "https://huggingface.co/black-forest-labs/FLUX.1-dev",
            "loras": json.dumps(
                [
                    {
                        "id": "212532",
                        "versionId": "244808",
                        "name": "Disney",
                        "weight": 0.8,
                        "downloadUrl": "https://civitai.com/api/download/models/244808",
                    }
                ]
            ),
        }
    )


async def bare_loop(url: str, df: pd.DataFrame, concurrency: int) -> tuple[float, int, int]:
    """Returns (seconds, apps created, 429s met)."""
    bodies = iter(
        json.dumps(
            {
                "name": r["name"],
                "configuration": {"gpu_tier": r["gpu_tier"]},
                "workflow": {
                    "model_url": r["model_url"],
                    "tools": {"loras": json.loads(r["loras"])},
                },
            }
        ).encode()
        for r in df.to_dict("records")
    )
    created = throttled = 0
    headers = {"x-api-key": KEY, "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal created, throttled
        for body in bodies:
            while True:
                async with session.post(f"{url}/app", data=body, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 429:
                        created += answer.status == 201
                        break
                    throttled += 1
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))

    start = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - start, created, throttled


def bulk_run(url: str, df: pd.DataFrame, concurrency: int) -> tuple[float, int, int, int]:
    """Returns (seconds, apps created, requests, retries)."""
    start = time.perf_counter()
    result = bulk.run(df, base_url=url, api_key=KEY, concurrency=concurrency, progress=False)
    seconds = time.perf_counter() - start
    summary = result.attrs["summary"].splitlines()[1].split()
    return seconds, int((result.status == "created").sum()), int(summary[0]), int(summary[6])


def measure(flags: tuple[str, ...], df: pd.DataFrame, concurrency: int) -> dict:
    """One bare run and one bulk run, each on a fresh emulator, back to back."""
    with emulator(*flags) as url:
        bare_s, bare_ok, bare_429 = asyncio.run(bare_loop(url, df, concurrency))
    with emulator(*flags) as url:
        bulk_s, bulk_ok, requests, retries = bulk_run(url, df, concurrency)
    return {
        "bare_s": bare_s,
        "bare_ok": bare_ok,
        "bare_429": bare_429,
        "bulk_s": bulk_s,
        "bulk_ok": bulk_ok,
        "requests": requests,
        "retries": retries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--limit", type=float, default=200, help="server rate limit, per s")
    parser.add_argument("--repeat", type=int, default=3, help="pairs of runs; medians shown")
    args = parser.parse_args()
    df = frame(args.rows)
    table = []
    for scenario, flags in (
        ("no limit", ()),
        (f"server limit {args.limit:g}/s", ("--rate-limit", str(args.limit))),
    ):
        runs = pd.DataFrame([measure(flags, df, args.concurrency) for _ in range(args.repeat)])
        m = runs.median()
        table.append(
            {
                "scenario": scenario,
                "rows": args.rows,
                "created bare/bulk": f"{runs.bare_ok.min():.0f}/{runs.bulk_ok.min():.0f}",
                "429s bare": int(m.bare_429),
                "retries bulk": int(m.retries),
                "time bulk/bare": round(m.bulk_s / m.bare_s, 2),
                "rows/s bulk vs limit": round(args.rows / m.bulk_s / args.limit, 2)
                if flags
                else "",
            }
        )
    print(pd.DataFrame(table).to_string(index=False))


if __name__ == "__main__":
    main()
