"""A manifest whose BOM declares UTF-16 or UTF-32 (Excel's "Unicode Text", PowerShell's
``>``) is read in that encoding, as the key file is, unless --encoding says otherwise."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .helpers import URL, cli_env, run_cli

NAMES = ["café-1", "naïve-2", "日本-3"]


@pytest.mark.parametrize(
    "encoding, suffix",
    [("utf-16", ".csv"), ("utf-16-be", ".tsv"), ("utf-32", ".csv"), ("utf-16", ".jsonl")],
)
def test_a_manifest_is_read_in_the_encoding_its_bom_declares(
    tmp_path, emulator_thread, encoding, suffix
):
    path = tmp_path / f"m{suffix}"
    rows = [{"name": n, "gpu_tier": "BASIC", "model_url": URL} for n in NAMES]
    if suffix == ".jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        text = pd.DataFrame(rows).to_csv(index=False, sep="\t" if suffix == ".tsv" else ",")
    bom = "\ufeff" if encoding == "utf-16-be" else ""  # the -be codec writes none itself
    path.write_bytes((bom + text).encode(encoding))
    with emulator_thread() as emu:
        done = run_cli("create", path.name, cwd=tmp_path, env=cli_env(emu.url))
        held = sorted(emu.names())
    results = pd.read_csv(tmp_path / "m.results.csv")
    assert done.returncode == 0, done.stderr
    assert list(results.name) == NAMES and set(results.status) == {"created"}
    assert held == sorted(NAMES)


def test_an_encoding_given_is_the_user_s_word(tmp_path, emulator_thread):
    path = tmp_path / "m.csv"
    path.write_bytes("name,gpu_tier,model_url\ncafé,BASIC,x\n".encode("utf-16"))
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", "--encoding", "ascii", cwd=tmp_path, env=cli_env(emu.url))
        posts = emu.record.posts
    assert done.returncode == 2 and posts == 0
    assert "is not ascii text at line 1" in done.stderr
