"""PUT and DELETE of ``/app/{app_id}``, as the docs state them (../shared/rungen-api.md).

A PUT changes only the fields in its body; ``gpu_tier`` and ``location`` cannot change,
and of the LoRAs only their weights. Both honour ``x-team-id``, the key, the rate limit
and the faults, and are counted.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ._contract import check_update
from ._server import EMULATOR, Server, _deny, _drop, _fail_before, _json

__all__ = ["delete_app", "put_app"]


async def _arrive(request: web.Request, counter: str) -> tuple[Server, bytes, web.Response | None]:
    """What every change meets first: its count, the latency, the key, the limit, the
    faults."""
    emu: Server = request.app[EMULATOR]
    setattr(emu.record, counter, getattr(emu.record, counter) + 1)
    raw = await request.read()
    if emu.faults.latency:
        await asyncio.sleep(emu.faults.latency)
    return emu, raw, _deny(request, emu) or _fail_before(request, emu)


def _no_such_app(app_id: str) -> web.Response:
    return _json(404, {"error": f"App with ID '{app_id}' not found."})


async def put_app(request: web.Request) -> web.Response:
    emu, raw, early = await _arrive(request, "puts")
    if early is not None:
        return early
    app_id = request.match_info["app_id"]
    app = emu.apps.get(emu.owner(request), {}).get(app_id)
    if app is None:
        return _no_such_app(app_id)
    try:
        body = json.loads(raw)
    except ValueError:
        return _json(400, {"error": "Invalid request body. Expected JSON."})
    problem = check_update(body, emu.loras.get(app_id, []))
    if problem:
        return _json(400, {"error": problem})
    _change(emu, app, body)
    emu.record.put_bodies.append(body)
    answer = json.dumps({"data": emu.lifecycle.show(app)}).encode()
    if emu.draw(emu.faults.drop_after):
        return _drop(request, emu, "after")
    return web.Response(status=200, body=answer, content_type="application/json")


def _change(emu: Server, app: dict[str, Any], body: dict[str, Any]) -> None:
    for field in ("name", "description"):
        if field in body:
            app[field] = body[field]
    workers = (body.get("configuration") or {}).get("active_workers")
    if workers is not None:
        before = app["configuration"]["active_workers"]
        app["configuration"]["active_workers"] = workers
        emu.lifecycle.scaled(app, before)
    workflow = body.get("workflow") or {}
    if "model_url" in workflow:
        app["workflow"]["model_url"] = workflow["model_url"]
    loras = (workflow.get("tools") or {}).get("loras")
    if loras is not None:
        emu.loras[app["id"]] = loras
        shown = [{k: lora[k] for k in ("id", "name", "weight")} for lora in loras]
        app["workflow"]["tools"] = {"loras": shown}
    app["updated_at"] = datetime.now(UTC).isoformat()


async def delete_app(request: web.Request) -> web.Response:
    emu, _, early = await _arrive(request, "deletes")
    if early is not None:
        return early
    owner, app_id = emu.owner(request), request.match_info["app_id"]
    app = emu.apps.get(owner, {}).pop(app_id, None)
    if app is None:
        return _no_such_app(app_id)
    emu.loras.pop(app_id, None)
    emu.lifecycle.forget(app_id)
    emu.record.deleted.append((owner, app_id, app["configuration"]["active_workers"]))
    if emu.draw(emu.faults.drop_after):
        return _drop(request, emu, "after")
    return web.Response(status=204)
