"""The key goes to the base URL and nowhere else, and never shows: redirects, server
text that echoes it, mistyped flags. Each test runs the real CLI against servers on
loopback and checks every output and what each server received."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .helpers import cli_env, run_cli
from .stub_server import Answer, Received, StubServer

URL = "https://huggingface.co/x/y"
LISTED = Answer(200, b'{"data": []}', {"Content-Type": "application/json"})


def manifest(tmp_path, n=3):
    frame = pd.DataFrame(
        {"name": [f"app-{i:03d}" for i in range(n)], "gpu_tier": "BASIC", "model_url": URL}
    )
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    return path


def nothing_reached(emu) -> None:
    record = emu.record
    assert (record.posts, record.gets, record.puts, record.deletes) == (0, 0, 0, 0)
    assert not emu.apps


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirecting_base_url_stops_the_run_and_the_key_goes_nowhere(
    tmp_path, emulator_thread, status
):
    path = manifest(tmp_path)
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


def every_parser():
    from bulk import cli

    top = cli.parser()
    yield top
    for action in top._subparsers._group_actions:
        yield from action.choices.values()


def test_no_parser_takes_abbreviations():
    parsers = list(every_parser())
    assert len(parsers) == 6 and all(p.allow_abbrev is False for p in parsers)


@pytest.mark.parametrize("flag", [["--api-key", PLAIN_KEY], [f"--api-key={PLAIN_KEY}"]])
def test_a_key_given_as_a_flag_is_refused_and_never_echoed(tmp_path, emulator_thread, flag):
    path = manifest(tmp_path)
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
    path = manifest(tmp_path)
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
