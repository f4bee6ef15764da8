"""The journal survives kills; the results file is replaced whole or not at all."""

from __future__ import annotations

import json
import sys
import types

import pandas as pd
import pytest

from bulk._output.progress import Progress
from bulk._output.results import Result
from bulk._running.journal import Journal, read_journal
from bulk._shared.errors import UsageError

from .helpers import build_rows, to_frame, write_results

ROWS = build_rows(
    [{"name": n, "gpu_tier": "BASIC", "model_url": "https://h/x"} for n in ("a", "b", "c")]
)


def test_journal_lines_are_on_disk_as_soon_as_written(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, resume=False)
    journal.start("m.csv", 3)
    journal.intent(ROWS[0])
    # Read by another handle while the journal is still open: nothing is held back.
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "intent"]
    assert events[1]["key"] == ROWS[0].key and events[1]["name"] == "a"
    journal.close()


def test_reading_skips_a_line_cut_short_by_a_kill(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, resume=False)
    journal.start("m.csv", 3)
    for row in ROWS[:2]:
        journal.intent(row)
    journal.result(ROWS[0], Result(1, "a", "created", "app_1"))
    journal.close()
    with open(path, "a") as f:
        f.write('{"event": "result", "name": "b", "app_id": "app_')
    earlier = read_journal(path)
    assert not earlier.finished
    assert earlier.rows[(None, "a")].app_id == "app_1"
    assert earlier.rows[(None, "b")].sent and earlier.rows[(None, "b")].app_id is None
    assert (None, "c") not in earlier.rows


@pytest.mark.anyio
async def test_resume_lists_only_once_a_killed_runs_unanswered_requests_could_have_landed(
    tmp_path,
):
    from bulk._running.journal import let_land

    path = tmp_path / "j.jsonl"
    journal = Journal(path, resume=False)
    journal.start("m.csv", 3)
    journal.intent(ROWS[0])
    journal.result(ROWS[0], Result(1, "a", "created", "app_1"))
    journal.intent(ROWS[1])  # killed before its answer came
    journal.close()
    waits = []

    async def sleep(seconds):
        waits.append(seconds)

    await let_land(read_journal(path), 30.0, sleep=sleep)
    assert len(waits) == 1 and 29 < waits[0] <= 30
    waits.clear()
    journal = Journal(path, resume=True)
    journal.start("m.csv", 3, timeout=5.0)  # a resumed run, killed in turn
    journal.intent(ROWS[2])
    journal.close()
    await let_land(read_journal(path), 30.0, sleep=sleep)
    assert len(waits) == 1 and 4 < waits[0] <= 5  # the bound of the run that sent
    waits.clear()
    answered = tmp_path / "answered.jsonl"
    journal = Journal(answered, resume=False)
    journal.intent(ROWS[0])
    journal.result(ROWS[0], Result(1, "a", "created", "app_1"))
    journal.close()
    await let_land(read_journal(answered), 30.0, sleep=sleep)
    assert waits == []


def test_unfinished_journal_needs_resume_and_resume_needs_a_journal(tmp_path):
    path = tmp_path / "j.jsonl"
    with pytest.raises(UsageError, match="nothing to resume"):
        Journal(path, resume=True)
    journal = Journal(path, resume=False)
    journal.start("m.csv", 3)
    journal.close()
    Journal(path, resume=False).close()  # nothing was sent: nothing blocks a fresh run
    journal = Journal(path, resume=False)
    journal.start("m.csv", 3)
    journal.intent(ROWS[0])
    journal.close()
    with pytest.raises(UsageError, match="pass --resume"):
        Journal(path, resume=False)
    Journal(path, resume=True).close()
    journal = Journal(path, resume=True)
    journal.end()
    journal.close()
    Journal(path, resume=False).close()  # a finished run may be followed by a fresh one


def test_results_are_replaced_whole_or_left_as_they_were(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    frame = to_frame([Result(1, "a", "created", "app_1", 201, 1)])
    write_results(frame, path)
    before = path.read_text()

    def crash(self, out, *args, **kwargs):
        out.write(b"row,na")  # half a file, then the writer dies
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(OSError):
        write_results(to_frame([Result(1, "a", "failed")]), path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temporary file left


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_results_formats_round_trip(tmp_path, suffix):
    frame = to_frame(
        [
            Result(1, "a", "created", "app_1", 201, 1),
            Result(2, "b", "failed", None, 502, 6, "HTTP 502", "server"),
        ]
    )
    path = write_results(frame, tmp_path / f"r{suffix}")
    back = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }[suffix](path)
    assert back["status"].tolist() == ["created", "failed"]
    assert back["error_kind"].tolist()[1] == "server"


def test_progress_uses_tqdm_auto_in_a_notebook_with_ipywidgets(monkeypatch):
    import importlib.util

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    real = importlib.util.find_spec
    widgets = types.SimpleNamespace(name="ipywidgets")
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: widgets if name == "ipywidgets" else real(name, *a),
    )
    created = []
    fake = types.ModuleType("tqdm.auto")
    fake.tqdm = lambda **kw: (
        created.append(kw)
        or types.SimpleNamespace(
            update=lambda n: None, set_postfix=lambda **kw: None, close=lambda: None
        )
    )
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    bar = Progress(3, enabled=True)
    bar.add(Result(1, "a", "created"))
    bar.close()
    assert created and "file" not in created[0]  # the notebook widget, not stderr text
