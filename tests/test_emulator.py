"""The emulator plays the API contract: bodies checked as the docs' 400s, keys, teams."""

from __future__ import annotations

import aiohttp
import pytest

from bulk.emulator import Faults, serve

pytestmark = pytest.mark.anyio
KEY = "emu-key"
BODY = {
    "name": "a",
    "description": "d",
    "configuration": {"gpu_tier": "STANDARD"},
    "workflow": {
        "model_url": "https://h/x",
        "tools": {
            "loras": [
                {
                    "id": "1",
                    "versionId": "2",
                    "downloadUrl": "https://c/2",
                    "name": "L",
                    "weight": 0.8,
                }
            ]
        },
    },
}


async def call(url, method="POST", path="/app", *, key=KEY, body=None, headers=None):
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url + path, json=body, headers={"x-api-key": key, **(headers or {})}
        ) as answer,
    ):
        return answer.status, await answer.json()


async def test_create_answers_the_documented_flat_body():
    async with serve(api_key=KEY) as emu:
        status, app = await call(emu.url, body=BODY)
        assert status == 201 and app["id"].startswith("app_") and app["name"] == "a"
        assert app["workflow"]["tools"]["loras"] == [{"id": "1", "name": "L", "weight": 0.8}]
        status, got = await call(emu.url, "GET", f"/app/{app['id']}")
        assert status == 200 and got["id"] == app["id"] and got["status"] == "STOPPED"
        assert (await call(emu.url, "GET", "/app/nope"))[0] == 404


async def test_envelope_as_the_live_service():
    async with serve(api_key=KEY, faults=Faults(envelope=True)) as emu:
        status, answer = await call(emu.url, body=BODY)
    assert status == 201 and answer["data"]["id"].startswith("app_")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": None}, "Missing required field: 'name'."),
        ({"configuration": {}}, "'configuration.gpu_tier' must be one of"),
        ({"configuration": {"gpu_tier": "BASIC", "active_workers": 1.5}}, "must be an integer"),
        ({"workflow": {}}, "Missing required field: 'workflow.model_url'."),
        (
            {"workflow": {"model_url": "u", "tools": {"loras": [{"id": "1"}]}}},
            "Missing required field: 'workflow.tools.loras[0].versionId'.",
        ),
    ],
)
async def test_bad_bodies_get_the_docs_400(change, message):
    async with serve(api_key=KEY) as emu:
        status, answer = await call(emu.url, body={**BODY, **change})
        assert emu.record.created == {}
    assert status == 400 and message in answer["error"]


async def test_wrong_key_and_teams():
    async with serve(api_key=KEY) as emu:
        assert await call(emu.url, key="bad", body=BODY) == (
            403,
            {"error": "Unauthorized access. Invalid API key."},
        )
        await call(emu.url, body=BODY, headers={"x-team-id": "t1"})
        await call(emu.url, body={**BODY, "name": "b"})
        assert [
            a["name"] for a in (await call(emu.url, "GET", headers={"x-team-id": "t1"}))[1]["data"]
        ] == ["a"]
        assert [a["name"] for a in (await call(emu.url, "GET"))[1]["data"]] == ["b"]


@pytest.mark.parametrize("honour", [True, False])
async def test_idempotency_key_replays_the_first_answer_when_honoured(honour):
    async with serve(api_key=KEY, faults=Faults(idempotency=honour)) as emu:
        first = await call(emu.url, body=BODY, headers={"Idempotency-Key": "k1"})
        again = await call(emu.url, body=BODY, headers={"Idempotency-Key": "k1"})
        assert (first == again) is honour
        assert emu.record.created[("user_emulated", "a")] == (1 if honour else 2)


async def test_error_share_answers_5xx_and_502_as_html():
    async with serve(api_key=KEY, faults=Faults(error_rate=1.0, seed=2)) as emu:
        async with aiohttp.ClientSession(headers={"x-api-key": KEY}) as session:
            kinds = set()
            for _ in range(30):
                async with session.post(emu.url + "/app", json=BODY) as answer:
                    kinds.add((answer.status, answer.content_type))
        assert emu.record.created == {}
    assert {s for s, _ in kinds} == {500, 502, 503, 504}
    assert (502, "text/html") in kinds


def test_fault_shares_are_checked():
    with pytest.raises(ValueError, match="error_rate must be a share from 0 to 1"):
        Faults(error_rate=2)
