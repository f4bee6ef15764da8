"""Narrow client edge cases with aioresponses: answers, retries, Retry-After, bodies."""

from __future__ import annotations

import re
from email.utils import formatdate

import aiohttp
import pytest

from bulk._http.breaker import RetryBudget
from bulk._http.client import MAX_ERROR_TEXT, Client, parse_retry_after
from bulk._http.directory import Directory
from bulk._http.pacing import Pacer
from bulk._http.retrying import THROTTLE_ALLOWANCE
from bulk._output.results import Stats
from bulk._running.control import RunControl
from bulk._running.journal import Journal
from bulk._running.sender import Sender, Shared
from bulk._shared.config import ApiKey

from .helpers import FakeClock, build_rows

pytestmark = pytest.mark.anyio
BASE = "https://api.example.test"
APP = re.compile(r"^https://api\.example\.test/app$")
KEY = "sk-live-abcdef123456"


def row():
    (r,) = build_rows([{"name": "a", "gpu_tier": "BASIC", "model_url": "https://h/x"}])
    return r


class Harness:
    def __init__(self, clock: FakeClock, max_retries: int = 3):
        self.clock = clock
        self.control = RunControl()
        self.max_retries = max_retries

    async def send(self):
        async with Client(BASE, ApiKey(KEY), timeout=5, pool=2) as client:
            self.pacer = Pacer(clock=self.clock, sleep=self.clock.sleep)
            directory = Directory(client, self.pacer, clock=self.clock, sleep=self.clock.sleep)
            self.stats = Stats()
            shared = Shared(
                client,
                self.pacer,
                directory,
                Journal(None, resume=False),
                self.control,
                RetryBudget(),
                self.stats,
                clock=self.clock,
            )
            sender = Sender(shared, max_retries=self.max_retries, sleep=self.clock.sleep)
            return await sender.send(row())


@pytest.fixture
def harness(clock):
    return Harness(clock)


def sent(mocked, method="POST"):
    return [call for (m, _), calls in mocked.requests.items() if m == method for call in calls]


async def test_retry_on_503_then_success(harness, mocked):
    mocked.post(APP, status=503, payload={"error": "Service unavailable."})
    mocked.post(APP, status=201, payload={"id": "app_1"})
    result = await harness.send()
    calls = sent(mocked)
    assert (result.status, result.app_id, result.attempts, result.http_status) == (
        "created",
        "app_1",
        2,
        201,
    )
    assert len(calls) == 2 and harness.clock.slept  # a backoff happened, on the fake clock
    keys = {c.kwargs["headers"]["Idempotency-Key"] for c in calls}
    assert len(keys) == 1  # the same key on the retry


async def test_no_retry_on_400(harness, mocked):
    mocked.post(
        APP,
        status=400,
        payload={"error": "Invalid request body. Missing required field: 'name'."},
    )
    result = await harness.send()
    assert len(sent(mocked)) == 1
    assert (result.status, result.error_kind, result.attempts) == ("failed", "client", 1)
    assert result.error == "HTTP 400: Invalid request body. Missing required field: 'name'."


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_is_final_and_stops_the_run(harness, status, mocked):
    mocked.post(APP, status=status, payload={"error": "Unauthorized access. Invalid API key."})
    result = await harness.send()
    assert len(sent(mocked)) == 1
    assert result.error_kind == "auth" and harness.control.reason_kind == "auth"


async def test_retry_after_seconds_pauses_the_pool(harness, mocked):
    mocked.post(APP, status=429, headers={"Retry-After": "7"}, payload={"error": "slow down"})
    mocked.post(APP, status=201, payload={"id": "app_2"})
    start = harness.clock()
    result = await harness.send()
    assert result.status == "created" and result.attempts == 2
    assert harness.clock() - start >= 6  # whole seconds are rounded up: one less
    assert harness.pacer.throttles == 1


async def test_retry_after_http_date_is_honoured(harness, mocked):
    when = formatdate(__import__("time").time() + 30, usegmt=True)
    mocked.post(APP, status=429, headers={"Retry-After": when})
    mocked.post(APP, status=201, payload={"id": "app_3"})
    start = harness.clock()
    result = await harness.send()
    assert result.app_id == "app_3" and 27 <= harness.clock() - start <= 31


async def test_retry_after_on_503_is_waited_by_the_row(harness, mocked):
    mocked.post(APP, status=503, headers={"Retry-After": "12"})
    mocked.post(APP, status=201, payload={"id": "app_4"})
    await harness.send()
    assert 12 in harness.clock.slept


async def test_429s_do_not_use_up_the_rows_retries(clock, mocked):
    harness = Harness(clock, max_retries=1)
    for _ in range(5):
        mocked.post(APP, status=429, headers={"Retry-After": "1"})
    mocked.post(APP, status=201, payload={"id": "app_5"})
    result = await harness.send()
    assert result.status == "created" and result.attempts == 6


@pytest.mark.parametrize(
    "payload, app_id",
    [
        ({"id": "flat_1", "name": "a"}, "flat_1"),
        ({"data": {"id": "env_1", "name": "a", "status": "STOPPED"}}, "env_1"),
        ({"data": {"id": 42}}, "42"),
    ],
)
async def test_id_from_flat_body_or_envelope(harness, payload, app_id, mocked):
    mocked.post(APP, status=201, payload=payload)
    result = await harness.send()
    assert result.app_id == app_id


async def test_html_502_is_a_clear_row_error_not_a_crash(clock, mocked):
    harness = Harness(clock, max_retries=1)
    html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    mocked.post(APP, status=502, body=html, content_type="text/html", repeat=True)
    mocked.get(APP, status=200, payload={"data": []}, repeat=True)
    result = await harness.send()
    assert result.status == "failed" and result.http_status == 502
    assert result.error.startswith("HTTP 502 (not JSON): '<html><head><title>502 Bad Gateway")
    assert result.error_kind == "server"  # a listing showed the app absent: not ambiguous


async def test_dropped_connection_is_settled_by_a_listing_before_resending(harness, mocked):
    mocked.post(APP, exception=aiohttp.ServerDisconnectedError())
    mocked.get(APP, status=200, payload={"data": [{"id": "app_9", "name": "a"}]})
    result = await harness.send()
    assert len(sent(mocked)) == 1  # adopted, never sent again
    assert (result.status, result.app_id) == ("created", "app_9")
    assert harness.stats.adopted == 1


async def test_unsettled_fate_ends_as_ambiguous(clock, mocked):
    harness = Harness(clock, max_retries=2)
    mocked.post(APP, exception=aiohttp.ServerDisconnectedError())
    mocked.get(APP, status=503, repeat=True)
    result = await harness.send()
    assert len(sent(mocked)) == 1
    assert result.error_kind == "ambiguous" and "could not check" in result.error


async def test_2xx_without_an_id_is_looked_up(harness, mocked):
    mocked.post(APP, status=201, body="OK")
    mocked.get(APP, status=200, payload=[{"id": "app_7", "name": "a"}])
    result = await harness.send()
    assert result.app_id == "app_7"


async def test_connection_refused_is_safe_to_resend(clock, mocked):
    harness = Harness(clock, max_retries=2)
    mocked.post(
        APP,
        exception=aiohttp.ClientConnectorError(
            __import__("aiohttp").client_reqrep.ConnectionKey(
                "h", 443, True, None, None, None, None
            ),
            OSError(111, "refused"),
        ),
    )
    mocked.post(APP, status=201, payload={"id": "app_8"})
    result = await harness.send()
    assert len(sent(mocked, "GET")) == 0  # no listing needed: nothing was sent
    assert result.app_id == "app_8" and result.attempts == 2


async def test_server_text_is_redacted_and_bounded(harness, mocked):
    mocked.post(APP, status=422, payload={"error": f"bad key {KEY} " + "x" * 1000})
    result = await harness.send()
    assert KEY not in result.error and "***" in result.error
    assert len(result.error) <= MAX_ERROR_TEXT


async def test_headers_sent(harness, mocked):
    mocked.post(APP, status=201, payload={"id": "x"})
    await harness.send()
    (call,) = sent(mocked)
    headers = call.kwargs["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"].startswith("bulk-") and "x-team-id" not in headers


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("3", 3.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("soon", None),
        ("", None),
        (None, None),
        ("99999", 300.0),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0


@pytest.mark.parametrize("status", [404, 409, 422])
async def test_other_final_answers_are_not_retried(harness, mocked, status):
    mocked.post(APP, status=status, payload={"error": "no"})
    result = await harness.send()
    assert len(sent(mocked)) == 1
    assert (result.status, result.error_kind, result.http_status) == ("failed", "client", status)


async def test_endless_429s_end_as_rate_limited(clock, mocked):
    harness = Harness(clock, max_retries=2)
    mocked.post(APP, status=429, repeat=True)
    result = await harness.send()
    assert result.error_kind == "rate_limited" and result.status == "failed"
    assert result.attempts == 2 + 1 + THROTTLE_ALLOWANCE


async def test_503s_end_as_server_after_the_rows_retries(clock, mocked):
    harness = Harness(clock, max_retries=2)
    mocked.post(APP, status=503, repeat=True)
    result = await harness.send()
    assert (result.error_kind, result.attempts) == ("server", 3)
    assert len(harness.clock.slept) == 2  # a backoff before each retry, on the fake clock
