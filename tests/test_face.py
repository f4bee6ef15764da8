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
        if isinstance(value, type) or callable(value):
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
