"""Refusals that say exactly what is wrong: a lone carriage return in a text (a CR LF
pair is a line break and is sent), and an output whose folder takes no file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from .helpers import URL, cli_env, run_cli


def test_a_cr_lf_in_a_quoted_cell_is_sent_and_a_lone_cr_is_named_as_such(tmp_path, emulator_thread):
    lines = [
        "name,gpu_tier,model_url,description",
        f'a,BASIC,{URL},"one\r\ntwo"',
        f'b,BASIC,{URL},"one\rtwo"',
    ]
    (tmp_path / "m.csv").write_bytes("\r\n".join(lines).encode() + b"\r\n")
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        sent = {b["name"]: b.get("description") for b in emu.record.bodies}
    results = pd.read_csv(tmp_path / "m.results.csv", keep_default_na=False)
    assert done.returncode == 1
    assert list(results.status) == ["created", "invalid"]
    assert sent == {"a": "one\r\ntwo"}
    error = results.error[1]
    assert "description: holds a carriage return (U+000D) without a line feed" in error
    assert "control character" not in error and "LF or CR LF" in error


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_an_output_in_a_folder_that_takes_no_file_names_the_output(tmp_path, emulator_thread):
    (tmp_path / "m.csv").write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\n")
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", "-o", "/proc/r.csv", cwd=tmp_path, env=cli_env(emu.url))
        posts = emu.record.posts
    assert done.returncode == 2 and posts == 0
    assert "output '/proc/r.csv': cannot write in its folder '/proc'" in done.stderr
    assert ".lock" not in done.stderr and ".tmp" not in done.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_output_in_a_read_only_folder_names_the_output(tmp_path):
    (tmp_path / "m.csv").write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\n")
    (tmp_path / "ro").mkdir(mode=0o555)
    done = run_cli("create", "m.csv", "--dry-run", "-o", "ro/r.csv", cwd=tmp_path)
    assert done.returncode == 2 and "cannot write in its folder 'ro'" in done.stderr
