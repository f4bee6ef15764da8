"""The emulator plays the API contract: bodies checked as the docs' 400s, keys, teams."""

from __future__ import annotations

import json

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
    status, raw = await call_raw(url, method, path, key=key, body=body, headers=headers)
    return status, json.loads(raw)


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


async def call_raw(url, method, path, *, key=KEY, body=None, headers=None):
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url + path, json=body, headers={"x-api-key": key, **(headers or {})}
        ) as answer,
    ):
        return answer.status, await answer.read()


async def test_put_changes_only_the_fields_it_is_given():
    async with serve(api_key=KEY) as emu:
        _, app = await call(emu.url, body=BODY)
        lora = {**BODY["workflow"]["tools"]["loras"][0], "weight": 0.6}
        change = {
            "description": "new",
            "configuration": {"active_workers": 2},
            "workflow": {"model_url": "https://h/y", "tools": {"loras": [lora]}},
        }
        status, answer = await call(emu.url, "PUT", f"/app/{app['id']}", body=change)
        assert status == 200
        got = answer["data"]
        assert got["description"] == "new" and got["name"] == "a"
        assert got["configuration"] == {
            "gpu_tier": "STANDARD",
            "active_workers": 2,
            "location": None,
        }
        assert got["workflow"]["model_url"] == "https://h/y"
        assert got["workflow"]["tools"]["loras"] == [{"id": "1", "name": "L", "weight": 0.6}]
        assert emu.record.puts == 1 and emu.record.put_bodies == [change]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"configuration": {"gpu_tier": "BASIC"}}, "'configuration.gpu_tier' cannot be changed"),
        ({"configuration": {"location": "eu"}}, "'configuration.location' cannot be changed"),
        ({"configuration": {"active_workers": -1}}, "must be an integer >= 0"),
        ({"workflow": {"tools": {"loras": []}}}, "Only LoRA weights can be updated"),
        (
            {"workflow": {"tools": {"loras": [{"id": "1", "name": "L", "weight": 0.5}]}}},
            "Only LoRA weights can be updated",
        ),
        ({"status": "RUNNING"}, "'status' cannot be updated"),
        ([1], "Expected a JSON object"),
    ],
)
async def test_put_refuses_what_the_docs_do_not_allow(change, message):
    async with serve(api_key=KEY) as emu:
        _, app = await call(emu.url, body=BODY)
        status, answer = await call(emu.url, "PUT", f"/app/{app['id']}", body=change)
        assert status == 400 and message in answer["error"]
        (kept,) = emu.apps["user_emulated"].values()
        assert kept["configuration"]["gpu_tier"] == "STANDARD"


async def test_delete_then_404_and_teams_keep_their_own_apps():
    async with serve(api_key=KEY) as emu:
        team = {"x-team-id": "t1"}
        _, app = await call(emu.url, body=BODY, headers=team)
        path = f"/app/{app['id']}"
        assert (await call(emu.url, "DELETE", path))[0] == 404  # not the user's own app
        assert (await call(emu.url, "PUT", path, body={"description": "x"}))[0] == 404
        assert await call_raw(emu.url, "DELETE", path, headers=team) == (204, b"")
        status, answer = await call(emu.url, "DELETE", path, headers=team)
        assert status == 404 and answer == {"error": f"App with ID '{app['id']}' not found."}
        assert emu.record.deletes == 3 and emu.record.deleted == [("t1", app["id"], 0)]
        assert (await call(emu.url, "DELETE", path, key="wrong"))[0] == 403


async def test_put_and_delete_meet_the_rate_limit():
    async with serve(api_key=KEY, faults=Faults(rate_limit=1, burst=1)) as emu:
        _, app = await call(emu.url, body=BODY)
        status, _ = await call(emu.url, "PUT", f"/app/{app['id']}", body={"description": "x"})
        assert status == 429 and emu.record.statuses[429] == 1
