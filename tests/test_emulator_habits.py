"""Issue 14, point 1: the emulator plays a real service's habits on demand: pages in four
styles that stay stable under writes, listings that lag, creates that finish after a
504, and listings that fail with 503 and Retry-After. Off by default."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from bulk._cli.serve import _faults, serve_parser
from bulk.emulator import Faults

from .helpers import KEY, URL, wait_for


def body(name):
    return {"name": name, "configuration": {"gpu_tier": "BASIC"}, "workflow": {"model_url": URL}}


def get(url):
    request = urllib.request.Request(url, headers={"x-api-key": KEY})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


def post(url, data):
    headers = {"x-api-key": KEY, "Content-Type": "application/json"}
    request = urllib.request.Request(f"{url}/app", json.dumps(data).encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def following(emu, paging, data, headers):
    """The next page's URL, as the style says it."""
    if paging == "cursor":
        return f"{emu.url}/app?cursor={data['next_cursor']}" if data["has_more"] else None
    if paging == "next":
        return data["next"]
    if paging == "link":
        link = headers.get("Link")
        return re.match(r"<([^>]+)>", link).group(1) if link else None
    more = data["page"] < data["total_pages"]
    return f"{emu.url}/app?page={data['page'] + 1}" if more else None


@pytest.mark.parametrize("paging", ["cursor", "next", "link", "page"])
def test_pages_stay_stable_when_apps_come_and_go_between_fetches(emulator_thread, paging):
    with emulator_thread(Faults(page_size=5, paging=paging)) as emu:
        before = [emu.store("user_emulated", body(f"a{i:02d}"))["id"] for i in range(23)]
        seen, url, pages = [], f"{emu.url}/app", 0
        while url:
            status, data, headers = get(url)
            assert status == 200 and len(data["data"]) <= 5
            seen += [app["id"] for app in data["data"]]
            pages += 1
            if pages == 2:  # a write between two fetches: one app gone, two new
                del emu.apps["user_emulated"][before[0]]
                emu.store("user_emulated", body("new-1"))
                emu.store("user_emulated", body("new-2"))
            url = following(emu, paging, data, headers)
    assert set(before[1:]) <= set(seen)  # no older app skipped a page
    assert len(seen) == len(set(seen))  # nor shown twice


def test_without_page_size_one_answer_holds_every_app(emulator_thread):
    with emulator_thread() as emu:
        for i in range(30):
            emu.store("user_emulated", body(f"a{i}"))
        status, data, headers = get(f"{emu.url}/app")
    assert status == 200 and len(data["data"]) == 30 and set(data) == {"data"}
    assert "Link" not in headers


def test_a_new_app_shows_in_listings_only_after_the_lag(emulator_thread):
    with emulator_thread(Faults(list_lag=0.5)) as emu:
        assert post(emu.url, body("fresh")) == 201
        app_id = next(iter(emu.apps["user_emulated"]))
        assert get(f"{emu.url}/app")[1]["data"] == []
        assert get(f"{emu.url}/app/{app_id}")[0] == 200  # the app itself is there
        wait_for(lambda: len(get(f"{emu.url}/app")[1]["data"]) == 1, what="the lag to pass")


def test_a_late_create_answers_504_and_creates_the_app_later(emulator_thread):
    with emulator_thread(Faults(late_create=1.0, late_delay=0.3)) as emu:
        started = time.monotonic()
        assert post(emu.url, body("late")) == 504
        assert emu.apps.get("user_emulated", {}) == {}
        wait_for(lambda: emu.record.landed == 1, what="the late create")
        assert time.monotonic() - started >= 0.3
        assert [a["name"] for a in emu.apps["user_emulated"].values()] == ["late"]
        assert emu.record.late == 1 and post(emu.url, {"name": "bad"}) == 400  # valid only


def test_listings_fail_with_503_and_retry_after(emulator_thread):
    with emulator_thread(Faults(list_error_rate=1.0)) as emu:
        status, data, headers = get(f"{emu.url}/app")
    assert status == 503 and headers["Retry-After"] == "1" and "error" in data


def test_serve_takes_the_habits_as_flags():
    import argparse

    parser = argparse.ArgumentParser()
    serve_parser(parser.add_subparsers())
    flags = {"--page-size": "7", "--paging": "link", "--list-lag": "4", "--late-create": "0.25"}
    flags |= {"--late-delay": "1.5", "--list-error-rate": "0.4"}
    args = parser.parse_args(["serve", *(x for pair in flags.items() for x in pair)])
    faults = _faults(args)
    assert (faults.page_size, faults.paging, faults.list_lag) == (7, "link", 4)
    assert (faults.late_create, faults.late_delay, faults.list_error_rate) == (0.25, 1.5, 0.4)
    assert Faults().page_size == 0 and Faults().list_lag == 0 and Faults().late_create == 0
    with pytest.raises(ValueError, match="paging must be one of"):
        Faults(paging="offset")
