"""The emulator in a thread of its own, for a notebook (or a test) to try bulk offline:
``with bulk.Emulator(error_rate=0.1) as emu: bulk.run(df, base_url=emu.url, ...)``.
Its loop is its own, so it works from inside a running event loop too."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

from ._faults import Faults
from ._server import Emulator as State
from ._server import serve

__all__ = ["Emulator"]


class Emulator:
    """Starts the API emulator on a free loopback port while the ``with`` block runs.

    ``url`` and ``api_key`` are what ``bulk.run`` needs; ``apps()`` shows what it holds;
    ``state`` is the server itself (its faults, and ``record``: what it received).
    Faults come as a ``Faults`` or as its fields: ``Emulator(rate_limit=10)``.
    """

    def __init__(
        self, faults: Faults | None = None, /, *, api_key: str | None = None, **fields: Any
    ) -> None:
        self.faults = faults if faults is not None else Faults(**fields)
        self._api_key = api_key
        self._state: State | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="bulk-emulator", daemon=True)

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # told to the thread that waits for it to start
            self._failed = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(api_key=self._api_key, faults=self.faults) as state:
            self._state = state
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(30) or self._failed is not None or self._state is None:
            raise RuntimeError(f"the emulator did not start: {self._failed!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    @property
    def state(self) -> State:
        assert self._state is not None, "use it in a 'with' block"
        return self._state

    @property
    def url(self) -> str:
        return self.state.url

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def apps(self, team: str | None = None) -> list[dict[str, Any]]:
        """The apps the emulator holds for ``team`` (None: the key's own), as copies."""
        if self._loop is None or not self._thread.is_alive():
            raise RuntimeError("the emulator is not running: call apps() inside its 'with' block")

        async def snapshot() -> list[dict[str, Any]]:  # in the server's own thread
            owner = team or "user_emulated"
            apps = self.state.apps.get(owner, {}).values()
            return copy.deepcopy([self.state.lifecycle.show(app) for app in apps])

        return asyncio.run_coroutine_threadsafe(snapshot(), self._loop).result(30)
