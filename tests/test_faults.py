"""Issue 3's promises, end to end: faults, rate limits, kills, resumes, re-runs."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
from collections import Counter

import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults

from . import helpers
from .helpers import KEY, cli_env, run_cli, wait_for

manifest = functools.partial(helpers.manifest, digits=4)  # app-0000: in order up to 10,000


def assert_exactly_once(emu, results, n):
    created = emu.record.created
    assert len(created) == n and set(created.values()) == {1}, emu.record.duplicates()
    assert (results["status"] == "created").all(), results[results.status != "created"]
    by_name = {a["name"]: a["id"] for a in emu.apps["user_emulated"].values()}
    assert dict(zip(results["name"], results["app_id"], strict=True)) == by_name


@pytest.mark.parametrize("idempotency", [True, False], ids=["server-dedupes", "server-ignores"])
def test_every_row_created_exactly_once_through_faults(tmp_path, emulator_thread, idempotency):
    faults = Faults(
        error_rate=0.15,
        drop_before=0.1,
        drop_after=0.15,
        rate_limit=150,
        idempotency=idempotency,
        seed=7,
    )
    path = manifest(tmp_path, 120)
    with emulator_thread(faults) as emu:
        results = bulk.run(
            path,
            base_url=emu.url,
            api_key=KEY,
            concurrency=12,
            max_retries=10,
            timeout=1,  # an ambiguous failure is settled one timeout later
            progress=False,
            output=tmp_path / "r.csv",
        )
        assert emu.record.drops["after"] > 0 and emu.record.drops["before"] > 0
        assert emu.record.statuses[503] + emu.record.statuses[500] > 0
        assert_exactly_once(emu, results, 120)
        if not idempotency:
            assert emu.record.replays == 0
    assert results.attrs["summary"].count("adopted") == 1


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_rate_limit_with_retry_after_in_both_forms(tmp_path, emulator_thread, form):
    path = manifest(tmp_path, 40)
    with emulator_thread(Faults(rate_limit=20, retry_after=form)) as emu:
        done = run_cli(
            "create", str(path), "--concurrency", "8", cwd=tmp_path, env=cli_env(emu.url)
        )
        throttled = emu.record.statuses[429]
        assert throttled > 0 and emu.record.duplicates() == {}
    assert done.returncode == 0, done.stdout + done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert (results.status == "created").all()


def test_unlimited_run_settles_under_the_servers_limit_with_few_429s(tmp_path, emulator_thread):
    path = manifest(tmp_path, 300)
    with emulator_thread(Faults(rate_limit=100, retry_after="none")) as emu:
        results = bulk.run(path, base_url=emu.url, api_key=KEY, concurrency=16, progress=False)
        answers = sorted(emu.record.post_answers)
    assert (results.status == "created").all()
    # The first burst finds the limit; after that the shared pacer keeps under it. Without
    # a pool-wide adaptive pacer, 16 workers against a 100/s limit are mostly refused.
    # Unpaced, about three in four are refused (the benchmark's bare loop: 76%). The
    # bound is loose on purpose: on a loaded machine the emulator, in this process,
    # answers late and in bursts; the pacer's own figures are proven on a fake clock.
    later = [status for _, status in answers[len(answers) // 2 :]]
    assert later.count(429) <= 0.5 * len(later), Counter(later)


def test_service_down_trips_the_retry_budget(tmp_path, emulator_thread):
    path = manifest(tmp_path, 200)
    with emulator_thread(Faults(error_rate=1.0, seed=1)) as emu:
        done = run_cli(
            "create",
            str(path),
            "--concurrency",
            "8",
            "--max-retries",
            "3",
            "--timeout",
            "1",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        posts = emu.record.posts
    assert done.returncode == 3  # stopped early: the service looks down
    assert "stopped early: the service looks down" in done.stderr
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert posts < 150  # not 200 rows x 4 attempts
    assert (results.status == "skipped").sum() > 100
    assert "Traceback" not in done.stderr


def test_skip_existing_sends_no_post_for_existing_names(tmp_path, emulator_thread):
    path = manifest(tmp_path, 10)
    with emulator_thread() as emu:
        first = bulk.run(path, base_url=emu.url, api_key=KEY, progress=False)
        manifest(tmp_path, 14)  # the nightly manifest grew by four apps
        posts_before, gets_before = emu.record.posts, emu.record.gets
        done = run_cli("create", str(path), "--skip-existing", cwd=tmp_path, env=cli_env(emu.url))
        assert emu.record.posts - posts_before == 4 and emu.record.duplicates() == {}
        gets = emu.record.gets - gets_before
    assert done.returncode == 0, done.stderr
    assert gets == 1  # listed once
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert (results.status[:10] == "exists").all() and (results.status[10:] == "created").all()
    assert results.app_id[:10].tolist() == first.app_id.tolist()


def test_plain_http_to_a_remote_host_needs_insecure(tmp_path):
    path = manifest(tmp_path, 1)
    with pytest.raises(bulk.ConfigError, match="plain http"):
        bulk.run(path, base_url="http://api.example.com", api_key=KEY, progress=False)
    result = bulk.run(
        path,
        base_url="http://api.example.com",
        api_key=KEY,
        dry_run=True,
        insecure=True,
        progress=False,
    )
    assert result.status.tolist() == ["valid"]


def _journal(tmp_path):
    path = tmp_path / "m.results.journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _start(tmp_path, url, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bulk",
            "create",
            "m.csv",
            "-q",
            "--concurrency",
            "6",
            "--timeout",
            "2",
            *extra,
        ],
        cwd=tmp_path,
        env=cli_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.subprocess
def test_sigkill_mid_run_then_resume_creates_every_row_once(tmp_path, emulator_thread):
    manifest(tmp_path, 120)
    faults = Faults(latency=0.05, drop_after=0.1, idempotency=False, seed=3)
    with emulator_thread(faults) as emu:
        proc = _start(tmp_path, emu.url)
        wait_for(
            lambda: sum(e["event"] == "result" for e in _journal(tmp_path)) >= 30,
            what="30 rows journalled",
        )
        proc.kill()
        proc.wait(10)
        received = {body["name"] for body in list(emu.record.bodies)}
        assert len(emu.record.created) < 120
        intents = Counter(e["name"] for e in _journal(tmp_path) if e["event"] == "intent")
        done = run_cli(
            "create",
            "m.csv",
            "--resume",
            "--concurrency",
            "6",
            "--timeout",
            "1",
            cwd=tmp_path,
            env=cli_env(emu.url),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        results = pd.read_csv(tmp_path / "m.results.csv")
        assert_exactly_once(emu, results, 120)
    # Every POST the server received had its intent on disk before it went out.
    assert received and received <= set(intents)


@pytest.mark.subprocess
def test_sigint_stops_cleanly_then_resume_finishes(tmp_path, emulator_thread):
    manifest(tmp_path, 150)
    with emulator_thread(Faults(latency=0.05)) as emu:
        proc = _start(tmp_path, emu.url, "--summary-json", "s.json")
        wait_for(lambda: len(emu.record.created) >= 20, what="20 apps created")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        summary = json.loads((tmp_path / "s.json").read_text())
        assert summary["exit_code"] == 130 and summary["interrupted"]
        assert summary["counts"]["created"] == len(emu.record.created)
        assert "Traceback" not in err
        again = "create m.csv -q --concurrency 6 --timeout 2 --summary-json s.json --resume"
        assert f"To finish: python -m bulk {again}" in err
        results = pd.read_csv(tmp_path / "m.results.csv")
        assert (results.status == "skipped").sum() > 0
        created = results[results.status == "created"]
        assert len(created) == len(emu.record.created)  # in-flight requests were let finish
        done = run_cli("create", "m.csv", "--resume", cwd=tmp_path, env=cli_env(emu.url))
        assert done.returncode == 0, done.stderr
        assert_exactly_once(emu, pd.read_csv(tmp_path / "m.results.csv"), 150)


@pytest.mark.subprocess
def test_unfinished_journal_refuses_a_fresh_run(tmp_path, emulator_thread):
    manifest(tmp_path, 60)
    with emulator_thread(Faults(latency=0.05)) as emu:
        proc = _start(tmp_path, emu.url)
        wait_for(lambda: len(emu.record.created) >= 5, what="5 apps created")
        proc.kill()
        proc.wait(10)
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
    assert done.returncode == 2
    assert "an earlier run stopped before its end" in done.stderr and "--resume" in done.stderr


@pytest.mark.subprocess
def test_second_ctrl_c_abandons_requests_in_flight_then_resume_settles_them(
    tmp_path, emulator_thread
):
    manifest(tmp_path, 40)
    with emulator_thread(Faults(latency=4.0, idempotency=False)) as emu:
        proc = _start(tmp_path, emu.url)
        wait_for(lambda: emu.record.posts >= 6, what="6 requests in flight")
        proc.send_signal(signal.SIGINT)
        first = proc.stderr.readline()  # the run says it heard the first Ctrl-C
        assert "Ctrl-C again to abandon" in first, first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=3.5)  # well before the slow answers arrive
        assert proc.returncode == 130 and "Traceback" not in err, err
        results = pd.read_csv(tmp_path / "m.results.csv")
        assert (results.status == "skipped").all()
        # The six sent and abandoned are not "not sent": they may exist.
        abandoned = results[results.error_kind == "ambiguous"]
        assert len(abandoned) == 6 and (abandoned.attempts == 1).all()
        assert abandoned.error.str.startswith("sent, then abandoned before its answer").all()
        wait_for(lambda: len(emu.record.created) == 6, what="the abandoned requests to land")
        emu.faults.latency = 0
        done = run_cli("create", "m.csv", "--resume", cwd=tmp_path, env=cli_env(emu.url))
        assert done.returncode == 0, done.stderr
        assert_exactly_once(emu, pd.read_csv(tmp_path / "m.results.csv"), 40)
        assert "6 found after an ambiguous failure and adopted" in done.stdout


def test_ambiguous_failures_share_a_few_listings(tmp_path, emulator_thread):
    path = manifest(tmp_path, 100)
    with emulator_thread(Faults(drop_after=0.3, idempotency=False, seed=11)) as emu:
        results = bulk.run(
            path,
            base_url=emu.url,
            api_key=KEY,
            concurrency=8,
            progress=False,
            max_retries=8,
            timeout=1,
        )
        drops, gets = emu.record.drops["after"], emu.record.gets
        assert_exactly_once(emu, results, 100)
    assert drops >= 15 and gets <= drops / 3, (drops, gets)


@pytest.mark.subprocess
def test_serve_command_plays_the_faults_it_is_given(tmp_path):
    import urllib.request

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bulk",
            "serve",
            "--port",
            "0",
            "--api-key",
            "k1",
            "--rate-limit",
            "2",
            "--retry-after",
            "date",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("emulator: serving the RunGen.AI API at http://127.0.0.1:")
        url = line.split(" at ")[1].strip()
        body = json.dumps(
            {
                "name": "a",
                "configuration": {"gpu_tier": "BASIC"},
                "workflow": {"model_url": "https://x/y"},
            }
        ).encode()
        statuses, after = [], None
        for _ in range(4):
            request = urllib.request.Request(
                f"{url}/app",
                data=body,
                method="POST",
                headers={"x-api-key": "k1", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    statuses.append(answer.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                after = exc.headers.get("Retry-After")
        assert statuses[:2] == [201, 201] and 429 in statuses
        assert after is not None and after.endswith("GMT")
        bad = urllib.request.Request(f"{url}/app", headers={"x-api-key": "wrong"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0


@pytest.mark.anyio
async def test_rows_stopped_between_retries_leave_the_journal_open_for_resume(tmp_path):
    import anyio

    from bulk.emulator import serve

    path = manifest(tmp_path, 4)
    control = bulk.RunControl()

    async def stop_when_all_were_tried():
        while emu.record.posts < 4:
            await anyio.sleep(0.005)
        control.interrupt()

    faults = Faults(error_rate=1.0, seed=5)
    async with serve(api_key=KEY, faults=faults) as emu, anyio.create_task_group() as tg:
        tg.start_soon(stop_when_all_were_tried)
        with pytest.raises(bulk.Interrupted) as stopped:
            await bulk.arun(
                path,
                base_url=emu.url,
                api_key=KEY,
                control=control,
                output=tmp_path / "r.csv",
                progress=False,
            )
    result = stopped.value.results
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert set(result.status) == {"skipped"}
    assert result.error.str.contains("last answer: HTTP 50").all()
    # Sent and stopped: a 503 was refused (sent again by --resume); after a 500, 502 or
    # 504 the app may exist (looked up by --resume first).
    for status, error, kind in zip(
        result.http_status, result.error, result.error_kind, strict=True
    ):
        if status == 503:
            assert kind == "server" and error.startswith("not retried: the run was interrupted")
        else:
            assert kind == "ambiguous" and "the app may exist; --resume looks it up" in error
    events = [json.loads(x)["event"] for x in (tmp_path / "r.journal.jsonl").read_text().split()]
    assert "end" not in events
    with pytest.raises(bulk.UsageError, match="pass --resume"):
        bulk.run(path, base_url=emu.url, api_key=KEY, output=tmp_path / "r.csv")


def test_a_read_timeout_is_looked_up_one_timeout_later_not_resent_at_once(
    tmp_path, emulator_thread
):
    """The server answers after 0.8 s, the client gives up at 0.5 s: the app is on its way.
    A listing right away would miss it and the row would be sent twice."""
    path = manifest(tmp_path, 3)
    with emulator_thread(Faults(latency=0.8, idempotency=False)) as emu:
        results = bulk.run(
            path, base_url=emu.url, api_key=KEY, timeout=0.5, max_retries=2, progress=False
        )
        wait_for(lambda: emu.record.posts == len(emu.record.bodies), what="handlers done")
        assert_exactly_once(emu, results, 3)
    assert "3 found after an ambiguous failure and adopted" in results.attrs["summary"]


def test_the_report_counts_what_the_server_saw(tmp_path, emulator_thread):
    import dataclasses

    path = manifest(tmp_path, 40)
    faults = Faults(rate_limit=50, burst=2, retry_after="none", error_rate=0.1, seed=4)
    with emulator_thread(faults) as emu:
        results = bulk.run(
            path,
            base_url=emu.url,
            api_key=KEY,
            concurrency=8,
            progress=False,
            timeout=1,
            output=tmp_path / "r.csv",
        )
        seen = emu.record
        report = results.attrs["report"]
        assert isinstance(report, bulk.Report)
        assert report.posts == seen.posts and report.listings == seen.gets
        assert report.throttled == seen.statuses[429] > 0
        assert report.retries == seen.posts - 40
    assert report.rows == 40 and report.counts["created"] == 40 and report.succeeded
    assert sum(report.error_kinds.values()) == 0 and report.stopped is None
    assert report.paths == {
        "results": str(tmp_path / "r.csv"),
        "journal": str(tmp_path / "r.journal.jsonl"),
    }
    assert report.started_at <= report.finished_at and report.elapsed > 0
    assert results.attrs["summary"] == report.summary()
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["counts"]["created"] == 40 and as_json["requests"] == report.requests
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.rows = 0


def test_a_dry_run_reports_what_it_checked_and_sends_nothing(tmp_path):
    path = manifest(tmp_path, 3)
    results = bulk.run(path, dry_run=True, progress=False)
    report = results.attrs["report"]
    assert report.dry_run and report.requests == 0 and report.counts["valid"] == 3
    assert "nothing was sent" in report.summary() and "0 requests" not in report.summary()
