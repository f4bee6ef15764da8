"""Shared test helpers: emulators on loopback sockets, a fake clock, the CLI in-process or
in a process of its own. Imported by the tests; conftest.py only turns some into fixtures."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
from aiohttp import ClientResponse

import bulk
from bulk import cli
from bulk._output.results import Result, tuples_frame, write_frames
from bulk._reading.manifest import ManifestReader
from bulk._validating.payloads import Row, Validator
from bulk.emulator import Faults, Server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "input_samples"
KEY = "test-key-5f0c9e"  # the emulator's; tests assert it never leaks into output
URL = "https://huggingface.co/x/y"  # the model URL of the tests' manifests


class FakeClock:
    """Virtual time: it moves only when the earliest sleeper is due, so tests never wait
    and concurrent sleepers see one consistent clock."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._due: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        due = self.now + max(seconds, 0.0)
        self._due.append(due)
        await asyncio.sleep(0)  # a checkpoint, as every real sleep is
        try:
            while self.now < due:
                for _ in range(3):  # let every runnable task reach its own sleep first
                    await asyncio.sleep(0)
                if due <= min(self._due):
                    self.now = due
        finally:
            self._due.remove(due)


class EmulatorThread:
    """``bulk.Emulator`` with the tests' key, giving the server itself to assert on."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._running = bulk.Emulator(faults or Faults(), api_key=KEY)

    def __enter__(self) -> Server:
        return self._running.__enter__().state

    def __exit__(self, *exc_info: object) -> None:
        self._running.__exit__(*exc_info)


def cli_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNGEN_")}
    env.update({"RUNGEN_API_KEY": KEY, "RUNGEN_BASE_URL": url, "PYTHONUNBUFFERED": "1", **extra})
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The real CLI (``bulk.cli.main``) in this process: what a user's shell would see,
    without the cost of starting Python. ``timeout`` is left to pytest-timeout here."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def wait_for(predicate: Callable[[], bool], *, timeout: float = 30, what: str = "") -> None:
    """Polls with a deadline instead of sleeping and hoping."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def max_in_window(times: list[float], window: float) -> int:
    """The most events that fall in any half-open window [x, x + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


class CompatResponse(ClientResponse):
    """aioresponses builds responses without the ``stream_writer`` that aiohttp 3.14 needs
    (pnuckowski/aioresponses#289); a response that was fully sent needs only its size."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


def read_manifest(manifest: Any, *, loras: Any = None) -> SimpleNamespace:
    """The whole manifest at once (runs stream it): ``records``, ``source``, ``warnings``."""
    reader = ManifestReader(manifest, loras=loras)
    records = [record for chunk in reader for record in chunk]
    return SimpleNamespace(records=records, source=reader.source, warnings=reader.warnings)


def build_rows(records: Any, *, team_id: str | None = None, allow_large: bool = False) -> list[Row]:
    """Every record validated: a valid row gets its body, payload and key, others an error."""
    return Validator(team_id=team_id, allow_large=allow_large)(records)


def to_frame(results: list[Result], index: Any = None) -> Any:
    return tuples_frame([r.as_tuple() for r in results], index=index)


def write_results(frame: Any, path: Any) -> Path:
    return write_frames([frame], path)


def manifest(
    tmp_path: Path, n: int = 5, name: str = "m.csv", *, digits: int = 3, **extra: Any
) -> Path:
    """A CSV manifest of ``n`` valid apps named app-000, app-001... (``extra``: columns)."""
    names = [f"app-{i:0{digits}d}" for i in range(n)]
    path = tmp_path / name
    pd.DataFrame({"name": names, "gpu_tier": "BASIC", "model_url": URL, **extra}).to_csv(
        path, index=False
    )
    return path
