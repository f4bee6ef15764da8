"""Issue 14, point 2: listings are complete or the run stops. Each paging style, any mix,
pages that fail, and paging that cannot be followed, through every command that lists."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest
from aiohttp import web
from yarl import URL as Url

from bulk._http.paging import next_page
from bulk._shared.errors import PagingError
from bulk.emulator import Faults

from .helpers import KEY, URL, cli_env, manifest, run_cli, wait_for

STYLES = ("cursor", "next", "link", "page")


def body(name, workers=0):
    return {
        "name": name,
        "configuration": {"gpu_tier": "BASIC", "active_workers": workers},
        "workflow": {"model_url": URL},
    }


def existing(emu, n, owner="user_emulated", *, workers=0):
    """n apps already there, named as the manifest's first n rows, in a scrambled order
    so that the rows found on the last page are not simply the last rows."""
    order = sorted(range(n), key=lambda i: (i * 17) % n)
    return {f"app-{i:03d}": emu.store(owner, body(f"app-{i:03d}", workers))["id"] for i in order}


@pytest.mark.parametrize("paging", STYLES)
def test_each_paging_style_is_followed_by_create_and_plan(tmp_path, emulator_thread, paging):
    manifest(tmp_path, 60)
    faults = Faults(page_size=7, paging=paging, idempotency=False)
    with emulator_thread(faults) as emu:
        ids = existing(emu, 40)
        env = cli_env(emu.url)
        plan = run_cli("plan", "m.csv", cwd=tmp_path, env=env)
        assert plan.returncode == 0, plan.stderr
        actions = pd.read_csv(tmp_path / "m.plan.csv", dtype=str)
        assert emu.record.posts == 0 and emu.record.pages == 6  # 40 apps, 7 a page
        done = run_cli("create", "m.csv", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        assert emu.record.posts == 20 and emu.record.duplicates() == {}
        held = {a["name"]: a["id"] for a in emu.apps["user_emulated"].values()}
    assert actions.action.value_counts().to_dict() == {"unchanged": 40, "create": 20}
    assert dict(zip(actions.name[:40], actions.app_id[:40], strict=True)) == ids
    results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
    assert results.status.value_counts().to_dict() == {"exists": 40, "created": 20}
    assert dict(zip(results.name, results.app_id, strict=True)) == held


def test_apply_delete_and_resume_page_the_same_way(tmp_path, emulator_thread):
    manifest(tmp_path, 30, team_id="t1")
    faults = Faults(page_size=4, paging="link", idempotency=False)
    with emulator_thread(faults) as emu:
        env = cli_env(emu.url)
        ids = existing(emu, 20, "t1", workers=1)
        applied = run_cli("apply", "m.csv", cwd=tmp_path, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert emu.record.posts == 10  # 20 found over five pages; the other 10 created
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        assert results.status.value_counts().to_dict() == {"created": 10, "unchanged": 20}
        resumed = run_cli("apply", "m.csv", "--resume", cwd=tmp_path, env=env)
        assert resumed.returncode == 0 and emu.record.posts == 10, resumed.stderr
        # The apps found on later pages are running: each is scaled down before its DELETE.
        deleted = run_cli(
            "delete", "m.results.csv", "--yes", "--include-existing", cwd=tmp_path, env=env
        )
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert emu.apps.get("t1", {}) == {}
        workers = {app_id: w for _, app_id, w in emu.record.deleted}
    assert all(workers[i] == 0 for i in ids.values())


def test_a_page_that_cannot_be_had_stops_the_run_before_anything_is_sent(tmp_path, emulator_thread):
    manifest(tmp_path, 10)
    with emulator_thread(Faults(page_size=3, list_error_rate=1.0, idempotency=False)) as emu:
        existing(emu, 5)
        env = cli_env(emu.url)
        done = run_cli("create", "m.csv", "--max-retries", "1", cwd=tmp_path, env=env)
        assert emu.record.posts == 0 and emu.record.gets == 2  # one page, tried twice
    assert done.returncode == 3, done.stderr
    assert "could not be listed before sending, so nothing was sent" in done.stderr
    assert "503" in done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
    assert (results.status == "skipped").all()


def test_failing_pages_are_retried_after_retry_after_and_nothing_is_sent_twice(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 30)
    faults = Faults(page_size=4, paging="page", list_error_rate=0.4, idempotency=False, seed=1)
    with emulator_thread(faults) as emu:
        existing(emu, 20)
        summary = tmp_path / "s.json"
        done = run_cli(
            "create", "m.csv", "--summary-json", str(summary), cwd=tmp_path, env=cli_env(emu.url)
        )
        assert done.returncode == 0, done.stderr
        assert emu.record.statuses[503] > 0  # pages were refused, and fetched again
        assert emu.record.posts == 10 and emu.record.duplicates() == {}
        # Every page fetched, refused ones included, is counted like any request.
        assert json.loads(summary.read_text())["listings"] == emu.record.gets > 5
    results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
    assert results.status.value_counts().to_dict() == {"exists": 20, "created": 10}


@contextmanager
def odd_server(answer) -> Iterator[str]:
    """A loopback server whose GET /app answers ``answer(request)``: paging bulk cannot
    follow. It counts POSTs; none may come."""
    posts: list[int] = []

    async def listing(request: web.Request) -> web.Response:
        data, headers = answer(request)
        return web.json_response(data, headers=headers)

    async def post(request: web.Request) -> web.Response:
        posts.append(1)
        return web.json_response({"id": "x"}, status=201)

    app = web.Application()
    app.router.add_get("/app", listing)
    app.router.add_post("/app", post)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()
        assert posts == []


APP = {"id": "a1", "name": "app-000"}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (lambda r: ({"data": [APP], "has_more": True}, None), "has_more: true with no way"),
        (
            lambda r: ({"data": [APP], "next": "http://127.0.0.2:9/app?after=1"}, None),
            "is at http://127.0.0.2:9, not at the base URL's",
        ),
        (
            lambda r: ({"data": [APP]}, {"Link": '<https://127.0.0.1/app?p=2>; rel="next"'}),
            "(Link rel=next) is at https://127.0.0.1:443",
        ),
        (lambda r: ({"data": [APP], "next_page_token": "abc"}, None), "next_page_token='abc'"),
        (lambda r: ({"data": [APP], "next_cursor": "same"}, None), "fetched before (a loop)"),
        (lambda r: ({"data": [APP], "page": 1}, None), "cannot tell whether more pages"),
    ],
)
def test_paging_that_cannot_be_followed_is_refused_naming_what_it_saw(tmp_path, answer, said):
    manifest(tmp_path, 3)
    with odd_server(answer) as url:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(url))
        plan = run_cli("plan", "m.csv", cwd=tmp_path, env=cli_env(url))
    assert done.returncode == 3 and said in done.stderr, done.stderr
    assert plan.returncode == 3 and said in plan.stderr, plan.stderr
    assert KEY not in done.stderr + plan.stderr


def test_a_mix_of_styles_is_followed_page_by_page():
    base = Url("http://127.0.0.1:8080/app")
    first = next_page(base, base, {"data": [], "next_cursor": "c1"}, None)
    assert first == base.with_query(cursor="c1")
    second = next_page(base, first, {"data": []}, Url("/app?after=9"))
    assert second == Url("http://127.0.0.1:8080/app?after=9")
    third = next_page(base, second, {"data": [], "page": 2, "total_pages": 3}, None)
    assert third is not None and third.query["page"] == "3"
    assert next_page(base, third, {"data": [], "page": 3, "total_pages": 3}, None) is None
    assert next_page(base, third, {"data": [], "next": "/app?x=1"}, None) == base.with_query(x=1)
    assert next_page(base, base, {"data": [], "has_more": False, "next_cursor": None}, None) is None
    with pytest.raises(PagingError, match="not at the base URL"):
        next_page(base, base, {"next": "https://127.0.0.1:8080/app"}, None)


@pytest.mark.anyio
async def test_the_one_complete_listing_of_a_team_and_the_clients_list_apps_page():
    """``Directory.fetch_all`` (paced, retried, counted) and ``Client.list_apps`` (one
    call, every page) give every app of a team, over pages that fail now and then."""
    from bulk._http.client import Client
    from bulk._http.directory import Directory
    from bulk._http.pacing import Pacer
    from bulk._output.results import Stats
    from bulk._shared.config import ApiKey
    from bulk.emulator import serve

    faults = Faults(page_size=3, paging="next", list_error_rate=0.3, seed=4)
    async with serve(api_key=KEY, faults=faults) as emu:
        ids = {emu.store("t9", body(f"a{i}"))["id"] for i in range(10)}
        stats = Stats()
        async with Client(emu.url, ApiKey(KEY), timeout=5, pool=2) as client:
            directory = Directory(client, Pacer(rate=0), stats=stats, max_retries=8)
            apps = await directory.fetch_all("t9")
            emu.faults.list_error_rate = 0
            reply, listed = await client.list_apps(team="t9")
            await directory.list_each(["t9"])
    assert {a["id"] for a in apps} == ids and {a["id"] for a in listed} == ids
    assert reply.status == 200 and stats.listings >= 4
    assert sorted(directory.listed("t9", "a3") or []) == [
        a["id"] for a in apps if a["name"] == "a3"
    ]


@pytest.mark.subprocess
def test_ctrl_c_during_a_long_listing_stops_it(tmp_path, emulator_thread):
    manifest(tmp_path, 5)
    with emulator_thread(Faults(page_size=1, paging="cursor", latency=0.1)) as emu:
        existing(emu, 200)  # 200 pages at 0.1 s each: 20 s to list them all
        proc = subprocess.Popen(
            [sys.executable, "-m", "bulk", "create", "m.csv", "-q"],
            cwd=tmp_path,
            env=cli_env(emu.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: emu.record.pages >= 3, timeout=30, what="the first pages")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        pages = emu.record.pages
    assert proc.returncode == 130, err
    assert pages < 100 and emu.record.posts == 0  # the listing stopped, nothing was sent
    assert "Traceback" not in err
