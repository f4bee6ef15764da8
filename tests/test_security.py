"""The key goes to the base URL and nowhere else, and never shows: redirects, server
text that echoes it, mistyped flags. Each test runs the real CLI against servers on
loopback and checks every output and what each server received."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .helpers import URL, cli_env, manifest, run_cli
from .stub_server import Answer, Received, StubServer

LISTED = Answer(200, b'{"data": []}', {"Content-Type": "application/json"})


def nothing_reached(emu) -> None:
    record = emu.record
    assert (record.posts, record.gets, record.puts, record.deletes) == (0, 0, 0, 0)
    assert not emu.apps


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirecting_base_url_stops_the_run_and_the_key_goes_nowhere(
    tmp_path, emulator_thread, status
):
    path = manifest(tmp_path, 3)
    with emulator_thread() as other:
        elsewhere = f"{other.url}/app"
        with StubServer(lambda got: Answer(status, headers={"Location": elsewhere})) as stub:
            done = run_cli("create", str(path), cwd=tmp_path, env=cli_env(stub.url))
        nothing_reached(other)
    assert done.returncode == 3
    assert f"HTTP {status} redirect to '{elsewhere}'" in done.stderr
    assert "check --base-url" in done.stderr
    assert [got.method for got in stub.received] == ["GET"]  # the listing, once
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert set(results.status) == {"skipped"}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_post_is_not_followed_and_stops_the_run(tmp_path, emulator_thread, status):
    path = manifest(tmp_path, 6)

    def answer(got: Received) -> Answer:
        if got.method == "GET":
            return LISTED
        return Answer(status, headers={"Location": f"{other.url}/app"})

    with emulator_thread() as other, StubServer(answer) as stub:
        done = run_cli(
            "create", str(path), "--concurrency", "1", cwd=tmp_path, env=cli_env(stub.url)
        )
        nothing_reached(other)
    assert done.returncode == 3
    assert f"stopped early: the server redirected: HTTP {status} redirect to" in done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert list(results.status) == ["failed"] + ["skipped"] * 5
    assert f"HTTP {status} redirect to '{other.url}/app'" in results.error[0]
    assert sum(got.method == "POST" for got in stub.received) == 1


PLAIN_KEY = "sk-live-7Hq2ZpW9rTb4NcV6mYd8KfJ3gLs5QaXe"
QUOTED_KEY = "sk-live-7Hq2\\ZpW9\"rTb4'NcV6mYd8KfJ3gLs5"
OFFSETS = (0, 60, 100, 110, 115, 118, 119, 120, 121, 125, 200, 280, 295, 299, 300)


def forms(key: str) -> list[str]:
    """The key as a server may echo it: raw, JSON-escaped, repr-escaped (both quotes)."""
    slashed = key.replace("\\", "\\\\")
    return [key, json.dumps(key)[1:-1], repr(key)[1:-1], slashed.replace("'", "\\'")]


def echoing_bodies(key: str) -> list[Answer]:
    """Error bodies with the key at offsets around every cut, in every form and kind."""
    bodies = []
    for offset in OFFSETS:
        for form in forms(key):
            text = "." * offset + form + " is not a key" + "." * 400
            bodies.append(Answer(400, text.encode(), {"Content-Type": "text/plain"}))
            for field in ("error", "detail"):  # the message, or a JSON body without one
                body = json.dumps({field: text}).encode()
                bodies.append(Answer(400, body, {"Content-Type": "application/json"}))
    return bodies


def windows(key: str, size: int = 8) -> set[str]:
    return {form[i : i + size] for form in forms(key) for i in range(len(form) - size + 1)}


@pytest.mark.parametrize("key", [PLAIN_KEY, QUOTED_KEY], ids=["plain", "quotes"])
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_part_of_the_key_survives_in_any_output(tmp_path, key, log_format):
    bodies = echoing_bodies(key)
    path = manifest(tmp_path, len(bodies))
    posts = iter(bodies)

    def answer(got: Received) -> Answer:
        return LISTED if got.method == "GET" else next(posts)

    with StubServer(answer) as stub:
        args = ["create", str(path), "-vv", "--summary-json", "s.json", "--concurrency", "1"]
        args += ["--log-format", log_format]
        if log_format == "json":
            args += ["--log-file", "log.jsonl"]
        done = run_cli(*args, cwd=tmp_path, env=cli_env(stub.url, RUNGEN_API_KEY=key))
    assert done.returncode == 1
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert (results.status == "failed").all() and results.error.str.contains(
        "***", regex=False
    ).any()
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    for name in ("m.results.csv", "m.results.journal.jsonl", "s.json", "log.jsonl"):
        if (tmp_path / name).exists():
            outputs[name] = (tmp_path / name).read_text(encoding="utf-8")
    assert len(outputs) == 6 - (log_format == "text")
    for name, text in outputs.items():
        leaks = sorted(w for w in windows(key) if w in text)
        assert not leaks, f"{name} shows part of the key: {leaks[:3]}"
    # The key went where it belongs, and only there: the header of each request.
    assert all(got.headers["x-api-key"] == key for got in stub.received)


@pytest.mark.parametrize("options", ["RunOptions", "DeleteOptions"])
def test_the_options_never_show_the_key(options):
    import dataclasses

    import bulk

    held = getattr(bulk, options)(api_key=PLAIN_KEY, base_url="https://api.example")
    shown = [repr(dataclasses.asdict(held)), repr(held), str(held), repr(dataclasses.astuple(held))]
    assert not any(w in text for text in shown for w in windows(PLAIN_KEY))
    assert held.api_key.reveal() == PLAIN_KEY  # still the key where it is used
    assert held == getattr(bulk, options)(api_key=PLAIN_KEY, base_url="https://api.example")
    assert held != getattr(bulk, options)(api_key=QUOTED_KEY, base_url="https://api.example")


def every_parser():
    from bulk import cli

    top = cli.parser()
    yield top
    for action in top._subparsers._group_actions:
        yield from action.choices.values()


def test_no_parser_takes_abbreviations():
    from .helpers import ROOT

    parsers = list(every_parser())
    assert len(parsers) == 9 and all(p.allow_abbrev is False for p in parsers)
    for source in [*(ROOT / "bulk").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]:
        text = source.read_text(encoding="utf-8")
        calls = text.count("ArgumentParser(")
        assert text.count("allow_abbrev=False") >= calls, f"{source.name}: allow_abbrev=False"


@pytest.mark.parametrize("flag", [["--api-key", PLAIN_KEY], [f"--api-key={PLAIN_KEY}"]])
def test_a_key_given_as_a_flag_is_refused_and_never_echoed(tmp_path, emulator_thread, flag):
    path = manifest(tmp_path, 3)
    with emulator_thread() as emu:
        args = ["create", str(path), *flag, "--summary-json", "s.json", "--log-format", "json"]
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        nothing_reached(emu)
    assert done.returncode == 2
    assert "there is no --api-key flag" in done.stderr
    assert PLAIN_KEY not in done.stdout + done.stderr
    assert not (tmp_path / "m.results.csv").exists()
    assert not (tmp_path / "s.json").exists() or PLAIN_KEY not in (tmp_path / "s.json").read_text()


@pytest.mark.parametrize("flag", [["--api-key-file", PLAIN_KEY], [f"--api-key-file={PLAIN_KEY}"]])
def test_a_key_given_for_the_key_file_is_never_echoed(tmp_path, emulator_thread, flag):
    path = manifest(tmp_path, 3)
    with emulator_thread() as emu:
        args = ["create", str(path), *flag, "--summary-json", "s.json"]
        args += ["--log-format", "json", "--log-file", "log.jsonl"]
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        nothing_reached(emu)
    assert done.returncode == 2
    log = (tmp_path / "log.jsonl").read_text()
    assert "the file named by --api-key-file does not exist" in log
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["error"] == "the file named by --api-key-file does not exist"
    assert "--api-key-file" in summary["command"]
    for text in (done.stdout, done.stderr, log, json.dumps(summary)):
        assert not any(w in text for w in windows(PLAIN_KEY))


def test_a_tampered_results_file_cannot_steer_delete(tmp_path, emulator_thread):
    path = manifest(tmp_path, 4)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        other = emu.store(
            "user_emulated",
            {
                "name": "not ours",
                "configuration": {"gpu_tier": "BASIC"},
                "workflow": {"model_url": URL},
            },
        )
        assert run_cli("create", str(path), cwd=tmp_path, env=env).returncode == 0
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        tampered = ["../admin/users/42", f"../app/{other['id']}", "%2e%2e%2fx", results.app_id[3]]
        results["app_id"] = [*tampered[:3], tampered[3]]
        results.to_csv(tmp_path / "m.results.csv", index=False)
        listed = run_cli("delete", "m.results.csv", "--dry-run", cwd=tmp_path, env=env)
        done = run_cli("delete", "m.results.csv", "--yes", cwd=tmp_path, env=env)
        deleted = [app_id for _, app_id, _ in emu.record.deleted]
        left = {app["id"] for app in emu.apps["user_emulated"].values()}
    assert "will delete 1 app" in listed.stdout and "is not an app id" in listed.stdout
    assert done.returncode == 1
    assert deleted == [tampered[3]] and other["id"] in left  # only the untampered row's app
    out = pd.read_csv(tmp_path / "m.results.deleted.csv", dtype=str)
    assert list(out.status) == ["failed"] * 3 + ["deleted"]
    assert out.error[:3].str.contains("is not an app id").all()
    assert (out.error_kind[:3] == "client").all()


@pytest.mark.anyio
async def test_ids_from_a_server_are_never_requested(mocked):
    from bulk._http.client import Action, Client
    from bulk._shared.config import ApiKey

    async with Client("https://api.example", ApiKey(PLAIN_KEY), timeout=5, pool=1) as client:
        put = await client.update("../admin/users/42", b"{}", team=None)
        gone = await client.delete("a/b", team=None)
    assert put.action is Action.FINAL and "is not an app id" in put.error
    assert gone.action is Action.FINAL and "is not an app id" in gone.error
    assert not mocked.requests  # nothing was sent


@pytest.mark.anyio
async def test_the_session_sends_nothing_off_the_base_url(emulator_thread):
    """Whoever builds a request (a next page, a call that forgot to refuse redirects),
    the session itself sends none to another scheme, host or port."""
    from yarl import URL as Url

    from bulk._http.client import Action, Client
    from bulk._shared.config import ApiKey
    from bulk._shared.errors import Refused

    with emulator_thread() as other:
        moved = Answer(302, headers={"Location": f"{other.url}/app"})
        with StubServer(lambda got: moved) as stub:
            async with Client(stub.url, ApiKey(PLAIN_KEY), timeout=5, pool=1) as client:
                off = await client._send("GET", Url(f"{other.url}/app"), None, {})
                with pytest.raises(Refused, match="HTTP 302 redirect to"):  # never followed
                    await client._session.get(f"{stub.url}/app", allow_redirects=True)
        nothing_reached(other)
    assert off.action is Action.FINAL and "not the base URL" in off.error
    assert len(stub.received) == 1  # the request that answered with the redirect


def test_plan_stops_on_a_redirect_too(tmp_path, emulator_thread):
    path = manifest(tmp_path, 3)
    with emulator_thread() as other:
        moved = Answer(301, headers={"Location": f"{other.url}/app"})
        with StubServer(lambda got: moved) as stub:
            done = run_cli("plan", str(path), cwd=tmp_path, env=cli_env(stub.url))
        nothing_reached(other)
    assert done.returncode == 3 and "HTTP 301 redirect to" in done.stderr


# Releases with advisories that reach our use: below these, pip could install one.
FLOORS = {
    "aiohttp": (3, 13, 3),  # request smuggling and other server advisories (the emulator)
    "pyarrow": (14, 0, 1),  # CVE-2023-47248: code run while reading an untrusted Parquet
    "orjson": (3, 9, 15),  # CVE-2024-27454: crash on deep recursion (server answers)
    "filelock": (3, 30),  # lock_descriptor, O_NOFOLLOW (CVE-2025-68146 fixed in 3.20.1)
}


def test_dependency_floors_exclude_releases_with_advisories():
    import re
    import tomllib

    from .helpers import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {}
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        floor = re.search(r">=\s*([0-9.]+)", requirement)
        if name and floor:
            floors[name[0].lower()] = tuple(int(part) for part in floor[1].split("."))
    for name, floor in FLOORS.items():
        assert floors[name] >= floor, f"{name}>={floor} at least"


def test_an_id_a_server_lists_is_checked_before_apply_puts_to_it(tmp_path, emulator_thread):
    frame = pd.DataFrame(
        {"name": ["odd", "fine"], "gpu_tier": "BASIC", "model_url": URL, "description": "new"}
    )
    frame.to_csv(tmp_path / "m.csv", index=False)
    with emulator_thread() as emu:
        for name in ("odd", "fine"):
            body = {"name": name, "description": "old", "configuration": {"gpu_tier": "BASIC"}}
            emu.store("user_emulated", {**body, "workflow": {"model_url": URL}})
        apps = emu.apps["user_emulated"]
        odd = next(key for key, app in apps.items() if app["name"] == "odd")
        apps["../admin/users/42"] = {**apps.pop(odd), "id": "../admin/users/42"}
        done = run_cli("apply", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        puts = emu.record.puts
    assert done.returncode == 1 and puts == 1  # only the well-formed id's app
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert list(results.status) == ["failed", "updated"]
    assert "is not an app id" in results.error[0] and results.error_kind[0] == "client"


@pytest.mark.parametrize("quote", ["json", "json-twice", "repr", "raw"])
def test_a_part_of_the_key_is_removed_in_its_escaped_forms_too(quote):
    from bulk import ApiKey

    key = 'K3y"tr\\ialBZq9wPx7'
    part = key[3:12]  # 9 of its characters, a quote and a backslash among them
    shown = {
        "json": json.dumps({"error": f"part={part}"}),
        "json-twice": json.dumps(json.dumps({"error": f"part={part}"})),
        "repr": repr(f"part={part}"),
        "raw": f"part={part}",
    }[quote]
    redacted = ApiKey(key).redact(shown)
    assert "ialBZ" not in redacted and "***" in redacted, redacted


def test_wait_stops_on_a_redirect_at_once(tmp_path, emulator_thread):
    results = tmp_path / "r.results.csv"
    results.write_text(
        "row,name,status,app_id,http_status,attempts,error,error_kind,team_id\n"
        "1,a,created,app_000001,201,1,,,t1\n"
    )
    with emulator_thread() as other:
        moved = Answer(307, headers={"Location": f"{other.url}/app"})
        with StubServer(lambda got: moved) as stub:
            done = run_cli("wait", str(results), "-q", cwd=tmp_path, env=cli_env(stub.url))
            listings = len(stub.received)
        nothing_reached(other)
    # Not a round after round until --wait-timeout: a redirect does not go away by waiting.
    assert done.returncode == 3 and "HTTP 307 redirect to" in done.stderr, done.stderr
    assert listings == 1


def test_delete_never_removes_an_app_its_row_does_not_name(tmp_path, emulator_thread):
    path = manifest(tmp_path, 3)
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        other = emu.store(
            "user_emulated",
            {
                "name": "not ours",
                "configuration": {"gpu_tier": "BASIC", "active_workers": 4},
                "workflow": {"model_url": URL},
            },
        )
        assert run_cli("create", str(path), cwd=tmp_path, env=env).returncode == 0
        results = pd.read_csv(tmp_path / "m.results.csv", dtype=str)
        results.loc[0, "app_id"] = other["id"]  # a well-formed id, of another app
        results.to_csv(tmp_path / "m.results.csv", index=False)
        done = run_cli("delete", "m.results.csv", "--yes", cwd=tmp_path, env=env)
        deleted = [app_id for _, app_id, _ in emu.record.deleted]
        left = {app["id"] for app in emu.apps["user_emulated"].values()}
        scaled = emu.record.puts
    assert done.returncode == 1
    assert other["id"] in left and other["id"] not in deleted and len(deleted) == 2
    assert scaled == 0  # nor was it scaled down
    out = pd.read_csv(tmp_path / "m.results.deleted.csv", dtype=str)
    assert list(out.status) == ["failed", "deleted", "deleted"]
    assert "is the app 'not ours' on the server" in out.error[0]
