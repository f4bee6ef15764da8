"""Property tests: no manifest row can crash the reader or the validator, and the pacer
never admits more than its rate over any window."""

from __future__ import annotations

import asyncio
import json
import math
import re

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk._http.pacing import Pacer
from bulk._reading.manifest import FIELDS

from .helpers import FakeClock, build_rows, max_in_window, read_manifest

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "nan", "NULL", "[", "[]", "{}", "BASIC", "https://x.io/y", "3.0", "-1", "007"]
    ),
)
loras = st.one_of(
    scalars,
    st.lists(
        st.one_of(
            scalars,
            st.dictionaries(
                st.sampled_from(["id", "versionId", "downloadUrl", "name", "weight", "x"]), scalars
            ),
        ),
        max_size=4,
    ),
)
rows = st.fixed_dictionaries({}, optional={f: (loras if f == "loras" else scalars) for f in FIELDS})


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=8))
def test_random_rows_never_crash_and_each_bad_row_gets_its_own_error(records):
    built = build_rows(records)
    assert [r.number for r in built] == list(range(1, len(records) + 1))
    for row in built:
        if row.error is None:
            body = json.loads(row.payload)
            assert body["configuration"]["gpu_tier"] in ("BASIC", "STANDARD", "PERFORMANCE")
            assert "nan" not in row.payload.decode().lower().replace(body["name"].lower(), "")
        else:
            assert row.error.startswith(f"row {row.number}: ") and row.payload == b""


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.dictionaries(st.sampled_from([*FIELDS, "other"]), st.text(max_size=12)),
        min_size=1,
        max_size=6,
    )
)
def test_random_csv_manifests_read_or_fail_with_a_manifest_error(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("m") / "m.csv"
    pd.DataFrame(records).to_csv(path, index=False)
    try:
        doc = read_manifest(path)
    except Exception as exc:  # only the one clear, expected kind of error is allowed
        assert type(exc).__name__ == "ManifestError", exc
        return
    for row in build_rows(doc.records):  # a CSV row names its line too
        assert row.error is None or re.match(rf"row {row.number} \(line \d+\): ", row.error)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=500),
    workers=st.integers(1, 6),
    per_worker=st.integers(1, 30),
    throttles=st.lists(st.integers(0, 100), max_size=5),
)
def test_pacer_never_admits_more_than_its_rate_over_any_window(
    rate, workers, per_worker, throttles
):
    clock = FakeClock()
    pacer = Pacer(rate=rate, clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def worker():
        for _ in range(per_worker):
            sent = await pacer.acquire()
            times.append(clock())
            if len(times) in throttles:
                pacer.on_throttle(sent_at=sent, retry_after=0.5)
            else:
                pacer.on_success()

    async def main():
        await asyncio.gather(*(worker() for _ in range(workers)))

    asyncio.run(main())
    for window in (1.0, 2.5, 10.0):
        # R * W + 1 whenever R * W is whole; the one slot of tolerance can add a request
        # to a window whose length is not a whole number of slots.
        assert max_in_window(times, window) <= math.ceil(rate * window - 1e-9) + 1
