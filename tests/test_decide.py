"""What a row needs, from this run's listing and the journal of the run it resumes."""

from __future__ import annotations

import pytest

from bulk._running.existing import decide
from bulk._running.journal import Prior

from .helpers import build_rows


def row():
    (r,) = build_rows([{"name": "a", "gpu_tier": "BASIC", "model_url": "https://h/x"}])
    return r


def outcome(ids, prior=None, *, skip_existing=True):
    given = row()
    r, result = decide(given, ids, prior, skip_existing=skip_existing)
    assert given.existing == ()  # a decision is a new value; the row given stays as it was
    return (result and (result.status, result.app_id, result.error_kind)), r.existing


def test_a_new_name_is_sent():
    assert outcome([]) == (None, ())


def test_a_name_the_team_has_is_not_sent_and_ends_exists():
    assert outcome(["app_1"]) == (("exists", "app_1", None), ())


def test_two_apps_of_the_name_fail_the_row_and_name_both():
    _, result = decide(row(), ["app_1", "app_2"], None, skip_existing=True)
    assert (result.status, result.error_kind) == ("failed", "client")
    assert "app_1" in result.error and "app_2" in result.error


def test_without_skip_existing_it_is_sent_and_the_old_ids_are_never_adopted():
    assert outcome(["app_1"], skip_existing=False) == (None, ("app_1",))


def test_resume_keeps_what_the_earlier_run_created_while_the_server_holds_it():
    assert outcome(["app_7"], Prior(app_id="app_7")) == (("created", "app_7", None), ())
    assert outcome([], Prior(app_id="app_7")) == (None, ())  # gone since: send again


@pytest.mark.parametrize("skip_existing", [True, False])
def test_resume_adopts_an_app_that_appeared_after_an_unanswered_request(skip_existing):
    prior = Prior(sent=True, existing=("app_1",))
    assert outcome(["app_1", "app_9"], prior, skip_existing=skip_existing)[0] == (
        "created",
        "app_9",
        None,
    )


def test_resume_sends_again_what_an_unanswered_request_did_not_create():
    assert outcome([], Prior(sent=True)) == (None, ())


def test_a_row_is_a_value_no_step_can_rewrite():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        row().op = "update"  # type: ignore[misc]
