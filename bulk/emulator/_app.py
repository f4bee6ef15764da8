"""The emulator as one application: the routes of ``_server`` (POST, GET of one app), of
``_listing`` (GET /app) and of ``_changes`` (PUT, DELETE), and ``serve``. Here, above
them, so that ``_server`` imports neither of the modules that build on it."""

from __future__ import annotations

import contextlib
import secrets
import ssl
from collections.abc import AsyncIterator

from aiohttp import web

from ._changes import delete_app, put_app
from ._faults import Faults
from ._listing import list_apps
from ._server import Server, base_app

__all__ = ["make_app", "serve"]


def make_app(emulator: Server) -> web.Application:
    app = base_app(emulator)
    app.router.add_get("/app", list_apps)
    app.router.add_put("/app/{app_id}", put_app)
    app.router.add_delete("/app/{app_id}", delete_app)
    return app


@contextlib.asynccontextmanager
async def serve(
    *,
    api_key: str | None = None,
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[Server]:
    """Runs the emulator on ``host:port`` (0: a free port) while the block runs."""
    emulator = Server(api_key or secrets.token_urlsafe(24), faults or Faults())
    runner = web.AppRunner(make_app(emulator), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound = runner.addresses[0]
    scheme = "https" if ssl_context else "http"
    emulator.url = f"{scheme}://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
    try:
        yield emulator
    finally:
        await runner.cleanup()
