"""The face says ``bulk``: what users import from ``bulk`` shows as ``bulk.X`` in reprs,
tracebacks and ``help()``, and the functions document every parameter."""

from __future__ import annotations

import inspect
import re

import pytest

import bulk

FUNCTIONS = (
    "run",
    "arun",
    "plan",
    "aplan",
    "apply",
    "aapply",
    "delete",
    "adelete",
    "wait",
    "await_apps",
)


def test_every_class_and_function_of_the_face_says_bulk():
    for name in bulk.__all__:
        value = getattr(bulk, name)
        if isinstance(value, type) or inspect.isfunction(value):
            assert value.__module__ == "bulk", name
    assert repr(bulk.RunOptions).startswith("<class 'bulk.RunOptions'")
    with pytest.raises(bulk.ManifestError) as raised:
        bulk.run("apps.unknown")
    assert type(raised.value).__module__ == "bulk"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_parameter_is_documented(name):
    function = getattr(bulk, name)
    doc = inspect.getdoc(function) or ""
    documented = re.findall(r"^    (\w+): \S", doc.partition("\nParameters:\n")[2], re.M)
    assert documented == list(inspect.signature(function).parameters)


def test_the_exceptions_live_in_one_module():
    import importlib
    import pkgutil

    defined = {
        f"{info.name}.{name}"
        for info in pkgutil.walk_packages(bulk.__path__, "bulk.")
        if not info.name.startswith(("bulk.emulator", "bulk.__main__"))
        for name, value in vars(importlib.import_module(info.name)).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == info.name
    }
    assert {name.rsplit(".", 1)[0] for name in defined} == {"bulk._shared.errors"}
    with pytest.raises(bulk.UsageError) as raised:
        bulk.RunOptions(max_retries=-1)
    assert raised.value.name == "max_retries" and raised.value.as_flag().startswith("--max")


def test_a_plan_that_cannot_list_says_which_request_and_answer(tmp_path, emulator_thread):
    path = tmp_path / "m.csv"
    path.write_text("name,gpu_tier,location,model_url\nx,BASIC,US,https://example.com/m\n")
    with emulator_thread() as emu, pytest.raises(bulk.ServiceError) as raised:
        bulk.plan(path, base_url=emu.url, api_key="not-the-key", progress=False)
    error = raised.value
    assert (error.method, error.url, error.status) == ("GET", f"{emu.url}/app", 403)
    assert error.row is None and "not-the-key" not in str(error)


def test_statuses_and_plan_actions_are_literals_users_match_on():
    from typing import get_args

    assert get_args(bulk.Status) == bulk.STATUSES and all(type(s) is str for s in bulk.STATUSES)
    assert set(get_args(bulk.PlanAction)) == {
        "create",
        "unchanged",
        "update",
        "replace",
        "conflict",
        "invalid",
    }
