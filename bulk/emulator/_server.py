"""A real aiohttp.web server that plays the RunGen.AI app API (../shared/rungen-api.md).

A test double of the server, not part of the client: it shares no code with it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ._contract import check_body
from ._faults import Faults, Record, TokenBucket, draw, retry_after_header
from ._lifecycle import Lifecycle

__all__ = ["EMULATOR", "RECORD_PATH", "Server", "base_app"]

BAD_GATEWAY = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center>"
    b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
USER_ID = "user_emulated"
EMULATOR: web.AppKey[Server] = web.AppKey("emulator")
SEEN = ("content-type", "idempotency-key", "x-team-id")  # POST headers kept for tests
RECORD_PATH = "/_emulator/record"


@dataclass
class Server:
    """The server's state: its key, its faults, its apps, and what it received."""

    api_key: str
    faults: Faults
    url: str = ""
    # Called with each POST's headers as it arrives: tests check what the client had
    # done by then (its journal, say).
    on_post: Callable[[Mapping[str, str]], None] | None = None
    clock: Callable[[], float] = time.monotonic  # what the apps' statuses are timed by

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.faults, lambda: self.clock())
        self.record = Record()
        self.apps: dict[str, dict[str, dict[str, Any]]] = {}  # owner -> id -> app
        self._ids = itertools.count(1)
        self._rng = random.Random(self.faults.seed)
        self._buckets: dict[str, TokenBucket] = {}
        self._answers: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.loras: dict[str, list[dict[str, Any]]] = {}  # app id -> LoRAs as created
        self.order: dict[str, list[str]] = {}  # owner -> ids in creation order, never cut
        self.born: dict[str, float] = {}  # app id -> when it was created (monotonic)

    def owner(self, request: web.Request) -> str:
        return request.headers.get("x-team-id") or USER_ID

    def names(self, owner: str | None = None) -> list[str]:
        return [a["name"] for a in self.apps.get(owner or USER_ID, {}).values()]

    def store(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        app_id = f"app_{next(self._ids):06d}"
        now = datetime.now(UTC).isoformat()
        loras = [
            {k: lora[k] for k in ("id", "name", "weight")}
            for lora in (body["workflow"].get("tools") or {}).get("loras", [])
        ]
        config = body["configuration"]
        app = {
            "id": app_id,
            "name": body["name"],
            "description": body.get("description"),
            "configuration": {
                "gpu_tier": config["gpu_tier"],
                "active_workers": config.get("active_workers", 0),
                "location": config.get("location"),
            },
            "workflow": {"model_url": body["workflow"]["model_url"], "tools": {"loras": loras}},
            "status": "STOPPED",
            "created_at": now,
            "updated_at": now,
            "created_by": USER_ID,
            "owner_team_id": None if owner == USER_ID else owner,
            "owner_user_id": USER_ID,
            "jobs": 0,
            "workers": 0,
        }
        self.apps.setdefault(owner, {})[app_id] = app
        self.lifecycle.scaled(app, 0)
        self.order.setdefault(owner, []).append(app_id)
        self.born[app_id] = time.monotonic()
        # What the API keeps and does not show: every LoRA field, for PUT to check.
        self.loras[app_id] = list((body["workflow"].get("tools") or {}).get("loras", []))
        self.record.created[(owner, body["name"])] += 1
        return app

    def land(self, owner: str, body: dict[str, Any]) -> None:
        """A create that finishes after its 504."""
        self.store(owner, body)
        self.record.landed += 1

    def created_answer(self, app: dict[str, Any]) -> dict[str, Any]:
        if self.faults.envelope:
            return {"data": app}
        flat = {k: app[k] for k in ("id", "name", "description", "configuration", "workflow")}
        return {**flat, "team_id": app["owner_team_id"], "user_id": USER_ID}

    def throttle(self, key: str) -> float:
        if not self.faults.rate_limit:
            return 0.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                self.faults.rate_limit, burst=self.faults.burst
            )
        return bucket.take()

    def draw(self, share: float) -> bool:
        return draw(self._rng, share)

    def remember(self, owner: str, key: str | None, status: int, body: bytes) -> None:
        if key and self.faults.idempotency:
            self._answers.setdefault((owner, key), (status, body))

    def replay(self, owner: str, key: str | None) -> tuple[int, bytes] | None:
        if key and self.faults.idempotency:
            return self._answers.get((owner, key))
        return None


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers=headers,
    )


def _drop(request: web.Request, emulator: Server, when: str) -> web.Response:
    emulator.record.drops[when] += 1
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError  # nothing more is written on a connection that is gone


async def _post_app(request: web.Request) -> web.Response:
    emu: Server = request.app[EMULATOR]
    emu.record.posts += 1
    emu.record.post_times.append(asyncio.get_running_loop().time())
    if emu.on_post is not None:
        emu.on_post(request.headers)
    raw = await request.read()  # before the latency: a client that then hangs up is too late
    if emu.faults.latency:
        await asyncio.sleep(emu.faults.latency)
    owner, key = emu.owner(request), request.headers.get("Idempotency-Key")
    early = _deny(request, emu) or _replay(emu, owner, key) or _fail_before(request, emu)
    if early is not None:
        return early
    try:
        body = json.loads(raw)
    except ValueError:
        return _json(400, {"error": "Invalid request body. Expected JSON."})
    emu.record.bodies.append(body)
    emu.record.headers.append({k: v for k, v in request.headers.items() if k.lower() in SEEN})
    problem = check_body(body)
    if problem:
        return _json(400, {"error": problem})
    if emu.draw(emu.faults.late_create):  # a proxy gave up; the upstream goes on
        emu.record.late += 1
        asyncio.get_running_loop().call_later(emu.faults.late_delay, emu.land, owner, body)
        return _json(504, {"error": "Gateway timeout."})
    answer = json.dumps(emu.created_answer(emu.store(owner, body))).encode()
    emu.remember(owner, key, 201, answer)
    if emu.draw(emu.faults.drop_after):
        return _drop(request, emu, "after")
    return web.Response(status=201, body=answer, content_type="application/json")


def _replay(emu: Server, owner: str, key: str | None) -> web.Response | None:
    replayed = emu.replay(owner, key)
    if replayed is None:
        return None
    emu.record.replays += 1
    return web.Response(status=replayed[0], body=replayed[1], content_type="application/json")


def _fail_before(request: web.Request, emu: Server) -> web.Response | None:
    """The faults that strike before the app is created: a drop, or a 5xx."""
    if emu.draw(emu.faults.drop_before):
        return _drop(request, emu, "before")
    return _server_error(emu)


def _deny(request: web.Request, emu: Server) -> web.Response | None:
    key = request.headers.get("x-api-key", "")
    if not secrets.compare_digest(key.encode(), emu.api_key.encode()):
        return _json(403, {"error": "Unauthorized access. Invalid API key."})
    wait = emu.throttle(key)
    if wait:
        return _json(
            429, {"error": "Too many requests."}, retry_after_header(wait, emu.faults.retry_after)
        )
    return None


def _server_error(emu: Server) -> web.Response | None:
    if not emu.draw(emu.faults.error_rate):
        return None
    status = emu._rng.choice((500, 502, 503, 504))
    if status == 502:
        return web.Response(status=502, body=BAD_GATEWAY, content_type="text/html")
    return _json(status, {"error": "Internal error." if status == 500 else "Service unavailable."})


def _reading(handler: Callable[[web.Request, Server], Awaitable[web.Response]]) -> Any:
    """GET handlers are counted, and refused without the right key."""

    async def guarded(request: web.Request) -> web.Response:
        emu: Server = request.app[EMULATOR]
        emu.record.gets += 1
        return _deny(request, emu) or await handler(request, emu)

    return guarded


@_reading
async def _get_app(request: web.Request, emu: Server) -> web.Response:
    app = emu.apps.get(emu.owner(request), {}).get(request.match_info["app_id"])
    if app is None:
        return _json(404, {"error": "App not found."})
    return _json(200, emu.lifecycle.show(app))


async def _record(request: web.Request) -> web.Response:
    """What the emulator received, for a benchmark that runs it in a process of its own.
    Times are seconds since the first POST. Not part of the RunGen API."""
    record: Record = request.app[EMULATOR].record
    start = record.post_times[0] if record.post_times else 0.0
    return _json(
        200,
        {
            "posts": record.posts,
            "gets": record.gets,
            "statuses": {str(k): v for k, v in record.statuses.items()},
            "duplicates": len(record.duplicates()),
            "post_times": [round(t - start, 4) for t in record.post_times],
            "post_answers": [(round(t - start, 4), s) for t, s in record.post_answers],
        },
    )


@web.middleware
async def _count_statuses(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    record = request.app[EMULATOR].record
    record.statuses[response.status] += 1
    if request.transport is not None:
        record.peers.add(request.transport.get_extra_info("peername")[:2])
    if request.method == "POST":
        record.post_answers.append((asyncio.get_running_loop().time(), response.status))
    return response


def base_app(emulator: Server) -> web.Application:
    """The app with this module's routes: POST of apps, GET of one app, and the record."""
    app = web.Application(middlewares=[_count_statuses])
    app[EMULATOR] = emulator
    app.router.add_post("/app", _post_app)
    app.router.add_get("/app/{app_id}", _get_app)
    app.router.add_get(RECORD_PATH, _record)
    return app
