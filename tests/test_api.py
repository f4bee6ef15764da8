"""The public interface users' scripts depend on: names, signatures, exports."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import bulk

PUBLIC = [
    "COLUMNS",
    "ERROR_KINDS",
    "STATUSES",
    "STATUS_COLUMNS",
    "ApiKey",
    "BulkError",
    "ConfigError",
    "DeleteOptions",
    "Emulator",
    "Interrupted",
    "LiveOptions",
    "ManifestError",
    "PlanAction",
    "PlanTotals",
    "Report",
    "RunControl",
    "RunOptions",
    "ServiceError",
    "Status",
    "UsageError",
    "WaitOptions",
    "__version__",
    "aapply",
    "adelete",
    "aexport",
    "aplan",
    "apply",
    "arun",
    "astatus",
    "await_apps",
    "delete",
    "export",
    "plan",
    "run",
    "status",
    "wait",
]
RUN_OPTIONS = [
    "output",
    "base_url",
    "api_key",
    "team_id",
    "concurrency",
    "rate",
    "max_retries",
    "timeout",
    "connect_timeout",
    "loras",
    "dry_run",
    "progress",
]


def test_top_level_exports():
    assert sorted(bulk.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(bulk, name)


def test_internals_are_private_and_the_face_is_curated():
    public = {
        info.name
        for info in pkgutil.walk_packages(bulk.__path__, "bulk.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert public == {"bulk.cli", "bulk.emulator"}
    for name in bulk.__all__:  # everything exported is defined by bulk, not re-exported junk
        assert getattr(bulk, name) is not None


def test_every_module_declares_all_and_it_is_true():
    for info in pkgutil.walk_packages(bulk.__path__, "bulk."):
        module = importlib.import_module(info.name)
        if info.name == "bulk.__main__":
            continue
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_run_and_arun_have_the_documented_signature():
    for fn in (bulk.run, bulk.arun):
        params = inspect.signature(fn).parameters
        assert list(params)[: len(RUN_OPTIONS) + 1] == ["manifest", *RUN_OPTIONS]
        assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != "manifest")
        defaults = {name: p.default for name, p in params.items()}
        assert defaults | {"manifest": None} == defaults | {
            "manifest": None,
            "output": None,
            "base_url": None,
            "api_key": None,
            "team_id": None,
            "concurrency": 8,
            "rate": 0,
            "max_retries": 5,
            "timeout": 30,
            "loras": None,
            "dry_run": False,
            "progress": True,
        }
    assert inspect.signature(bulk.run).parameters == inspect.signature(bulk.arun).parameters
    assert inspect.iscoroutinefunction(bulk.arun) and not inspect.iscoroutinefunction(bulk.run)


def test_the_options_are_written_once_and_never_show_the_key():
    from dataclasses import fields

    from bulk._running.options import RunOptions

    assert [f.name for f in fields(RunOptions)] == list(inspect.signature(bulk.run).parameters)[1:]
    options = RunOptions(api_key="secret-key-0000", concurrency=3)
    assert "secret-key-0000" not in repr(options) and "concurrency=3" in repr(options)
    with __import__("pytest").raises(bulk.UsageError, match="concurrency must be"):
        RunOptions(concurrency=0)


def test_emulator_is_kept_apart_from_the_client():
    import ast
    import pathlib

    client_side = pathlib.Path(bulk.__file__).parent
    for path in client_side.rglob("*.py"):
        where = path.relative_to(client_side).parts
        if where in (("cli.py",), ("__init__.py",)) or where[0] in ("_cli", "emulator"):
            continue  # the CLI offers --emulator, the face bulk.Emulator: none sends
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert "emulator" not in (node.module or ""), path.name


def test_statuses_and_error_kinds_users_scripts_match_on():
    from bulk import COLUMNS, ERROR_KINDS, STATUSES

    assert set(ERROR_KINDS) == {
        "validation",
        "auth",
        "rate_limited",
        "server",
        "network",
        "ambiguous",
        "client",
    }
    assert set(STATUSES) == {
        "created",
        "failed",
        "invalid",
        "skipped",
        "exists",
        "valid",
        "updated",
        "unchanged",
        "drifted",
        "conflict",
        "deleted",
        "gone",
    }
    assert COLUMNS == (
        "row",
        "name",
        "status",
        "app_id",
        "http_status",
        "attempts",
        "error",
        "error_kind",
        "team_id",
    )


def test_the_version_is_written_once_and_types_are_shipped():
    import importlib.metadata
    from pathlib import Path

    assert bulk.__version__ == importlib.metadata.version("rungen-bulk")
    assert (Path(bulk.__file__).parent / "py.typed").is_file()
