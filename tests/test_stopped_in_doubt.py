"""A row answered 500/502/504 or dropped after sending, then stopped by Ctrl-C, is in
doubt: ``skipped`` with error_kind ``ambiguous``, saying the app may exist and that
--resume looks it up before sending; never "send it again"."""

from __future__ import annotations

import pandas as pd
import pytest

import bulk
from bulk.emulator import Faults

from .helpers import KEY, manifest, wait_for


@pytest.mark.parametrize(
    "fault", [{"late_create": 1.0, "late_delay": 0.05}, {"drop_after": 1.0}], ids=["504", "drop"]
)
def test_a_row_stopped_after_a_504_or_a_drop_is_ambiguous_and_resume_adopts_its_app(
    tmp_path, emulator_thread, fault
):
    """Every POST is answered 504 and the app created a moment later (or created and
    its connection dropped before the answer), shown in listings
    only after a lag: the look that Ctrl-C hurries misses it, so the row is not "not
    sent" but in doubt. The lag then ends, and --resume finds the apps."""
    path = manifest(tmp_path, 4)
    control = bulk.RunControl()
    run = {"progress": False, "output": tmp_path / "r.csv", "timeout": 1.0, "concurrency": 2}
    faults = Faults(list_lag=600, idempotency=False, **fault)
    with emulator_thread(faults) as emu:
        emu.on_post = lambda headers: emu.record.posts >= 2 and control.interrupt()
        with pytest.raises(bulk.Interrupted) as stopped:
            bulk.run(path, base_url=emu.url, api_key=KEY, control=control, **run)
        emu.on_post = None
        sent = emu.record.posts
        wait_for(lambda: emu.record.landed == emu.record.late, what="the late creates")
        emu.faults.late_create = emu.faults.drop_after = emu.faults.list_lag = 0.0
        done = bulk.run(path, base_url=emu.url, api_key=KEY, resume=True, **run)
        created, duplicates = dict(emu.record.created), emu.record.duplicates()
    first = stopped.value.results
    in_doubt = first[first.attempts > 0]
    assert len(in_doubt) == sent >= 2 and set(in_doubt.status) == {"skipped"}
    assert set(in_doubt.error_kind) == {"ambiguous"}
    for error in in_doubt.error:
        assert "the app may exist; --resume looks it up before sending again" in error
        assert "run again with --resume to send it" not in error
    assert duplicates == {} and len(created) == 4
    assert (done.status == "created").all()
    on_disk = pd.read_csv(tmp_path / "r.csv")
    assert list(on_disk.status) == ["created"] * 4
