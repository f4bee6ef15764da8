"""Shared fixtures: emulators on loopback sockets, a fake clock, the sample manifests."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from bulk.emulator import Emulator, Faults, serve

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "input_samples"
KEY = "test-key-5f0c9e"  # the emulator's; tests assert it never leaks into output


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class EmulatorThread:
    """The emulator in a thread of its own, for tests that run the CLI as a subprocess."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.emulator: Emulator | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(api_key=KEY, faults=self.faults) as emulator:
            self.emulator = emulator
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        assert self._ready.wait(10), "the emulator did not start"
        assert self.emulator is not None
        return self.emulator

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def emulator_thread() -> Callable[..., EmulatorThread]:
    return EmulatorThread


def cli_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNGEN_")}
    env.update({"RUNGEN_API_KEY": KEY, "RUNGEN_BASE_URL": url, "PYTHONUNBUFFERED": "1", **extra})
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulk", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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


class _CompatResponse(ClientResponse):
    """aioresponses builds responses without the ``stream_writer`` that aiohttp 3.14 needs
    (pnuckowski/aioresponses#289); a response that was fully sent needs only its size."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, working with the aiohttp this project runs on."""
    if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as mock:
        yield mock
