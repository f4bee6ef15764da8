"""``bulk.Emulator``'s options: serve's spellings are understood, and an unknown one is
named with the ones there are, instead of a dataclass's TypeError."""

from __future__ import annotations

import pytest

import bulk

from .helpers import KEY, URL


def test_an_unknown_option_is_named_with_the_accepted_ones():
    with pytest.raises(TypeError) as raised:
        bulk.Emulator(list_lag=20, list_lagg=3)
    message = str(raised.value)
    assert "Emulator(): unknown option 'list_lagg' (did you mean 'list_lag'?)" in message
    assert "the options are: rate_limit, burst" in message and "no_idempotency" in message
    assert "__init__" not in message


def test_serve_s_spellings_play_the_same_faults(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"name": ["a", "b"], "gpu_tier": "BASIC", "model_url": URL})
    frame["active_workers"] = 1
    emulator = bulk.Emulator(
        list_lag=20, no_idempotency=True, fail_app="b", start_seconds=0, api_key=KEY
    )
    with emulator as emu:
        results = bulk.run(frame, base_url=emu.url, api_key=KEY, output=tmp_path / "r.csv")
        states = {app["name"]: app["status"] for app in emu.apps()}
        faults = emu.state.faults
    assert list(results.status) == ["created", "created"]
    assert faults.idempotency is False and faults.fail == ("b",) and faults.list_lag == 20
    assert states["b"] == "FAILED" and states["a"] != "FAILED"


def test_an_option_given_in_both_spellings_is_refused():
    with pytest.raises(TypeError, match="'idempotency' is given twice"):
        bulk.Emulator(idempotency=True, no_idempotency=True)
