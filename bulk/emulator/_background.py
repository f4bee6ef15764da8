"""The emulator in a thread of its own, for a notebook (or a test) to try bulk offline:
``with bulk.Emulator(error_rate=0.1) as emu: bulk.run(df, base_url=emu.url, ...)``, or
``emu = bulk.Emulator().start()`` in one cell and ``emu.stop()`` in a later one.
Its loop is its own, so it works from inside a running event loop too."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

from ._app import serve
from ._faults import Faults, faults_of
from ._server import Server as State

__all__ = ["Emulator"]


class Emulator:
    """Runs the API emulator on a free loopback port, in a thread of its own.

    ``with Emulator() as emu:`` runs it for the block; ``emu = Emulator().start()`` and
    ``emu.stop()`` run it across notebook cells. ``url`` and ``api_key`` are what
    ``bulk.run`` needs; ``apps()`` shows what it holds; ``state`` is the server itself
    (its faults, and ``record``: what it received). A failure of its thread is raised by
    the next call that needs it, and by ``stop()``.
    Faults come as a ``Faults`` or as its fields: ``Emulator(rate_limit=10)`` (serve's
    spellings too: ``no_idempotency=True``, ``fail_app=``).
    """

    def __init__(
        self, faults: Faults | None = None, /, *, api_key: str | None = None, **fields: Any
    ) -> None:
        if faults is not None and fields:
            raise TypeError("Emulator(): give faults as a Faults or as options, not both")
        self.faults = faults if faults is not None else faults_of("Emulator()", fields)
        self._api_key = api_key
        self._state: State | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # raised in the thread that calls on it next
            self._failed = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(api_key=self._api_key, faults=self.faults) as state:
            self._state = state
            self._ready.set()
            await self._stop.wait()

    def start(self) -> Emulator:
        """Starts serving (again, after ``stop()``); returns the emulator."""
        if self.running:
            return self
        self._state, self._failed, self._loop = None, None, None
        self._ready.clear()
        self._thread = threading.Thread(target=self._serve, name="bulk-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._failed is not None or self._state is None:
            failed, self._thread = self._failed, None
            raise RuntimeError(f"the emulator did not start: {failed!r}") from failed
        return self

    def stop(self) -> None:
        """Stops serving; raises what its thread failed with, if it did."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None and thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        thread.join(30)
        self._check()

    def _check(self) -> None:
        failed, self._failed = self._failed, None
        if failed is not None:
            raise RuntimeError(f"the emulator's thread failed: {failed!r}") from failed

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._state is not None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state(self) -> State:
        if not self.running:
            self._check()
            raise RuntimeError(
                "the emulator is not running: call start(), or use it inside its 'with' block"
            )
        assert self._state is not None
        return self._state

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def apps(self, team: str | None = None) -> list[dict[str, Any]]:
        """The apps the emulator holds for ``team`` (None: the key's own), as copies."""
        state = self.state
        assert self._loop is not None

        async def snapshot() -> list[dict[str, Any]]:  # in the server's own thread
            owner = team or "user_emulated"
            apps = state.apps.get(owner, {}).values()
            return copy.deepcopy([state.lifecycle.show(app) for app in apps])

        return asyncio.run_coroutine_threadsafe(snapshot(), self._loop).result(30)
