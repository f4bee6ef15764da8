"""Fixtures; the helpers they are built from live in helpers.py."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator

import pytest
from aiohttp import ClientResponse
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from .helpers import CompatResponse, EmulatorThread, FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator_thread() -> Callable[..., EmulatorThread]:
    return EmulatorThread


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, working with the aiohttp this project runs on."""
    if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", CompatResponse)
    with aioresponses() as mock:
        yield mock


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs keep their locks, and their record of the apps they created, in the user's
    cache folder: the tests' go to one of their own, never to the home folder of whoever
    runs them, and a fresh one per test (emulators reuse ports and ids, so one test's
    record must not speak for another's server)."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
