"""The edges a new user meets first: key files from Windows, wrong base URLs, huge cells,
control characters, decimal commas in JSON, folders for files, LoRA tables in their own
encoding. Each ends in a clear error or a row error, and the other rows run."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest

from .helpers import KEY, URL, cli_env, manifest, run_cli


def results(tmp_path, name="m.results.csv"):
    return pd.read_csv(tmp_path / name, dtype=str, keep_default_na=False)


def no_traceback(done):
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert KEY not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "written",
    [
        pytest.param((KEY + "\r\n").encode("utf-16"), id="powershell-utf16"),
        pytest.param(("\ufeff" + KEY + "\r\n").encode("utf-8"), id="notepad-utf8-bom"),
        pytest.param((KEY + "\n").encode("utf-32"), id="utf32"),
    ],
)
def test_a_key_file_in_the_encoding_its_bom_declares_works(tmp_path, emulator_thread, written):
    manifest(tmp_path, 2, digits=1)
    (tmp_path / "key.txt").write_bytes(written)
    with emulator_thread() as emu:
        env = cli_env(emu.url, RUNGEN_API_KEY="")
        done = run_cli("create", "m.csv", "--api-key-file", "key.txt", cwd=tmp_path, env=env)
        names = emu.names()
    assert done.returncode == 0, done.stderr
    assert sorted(names) == ["app-0", "app-1"]
    assert set(results(tmp_path)["status"]) == {"created"}
    no_traceback(done)


def test_a_key_file_of_two_lines_says_so(tmp_path, emulator_thread):
    manifest(tmp_path, 1, digits=1)
    (tmp_path / "key3.txt").write_text(f"{KEY}\nsecond line\n")
    with emulator_thread() as emu:
        env = cli_env(emu.url, RUNGEN_API_KEY="")
        done = run_cli("create", "m.csv", "--api-key-file", "key3.txt", cwd=tmp_path, env=env)
        posts = emu.record.posts
    assert done.returncode == 2 and posts == 0
    assert "'key3.txt' holds 2 lines" in done.stderr and "empty" not in done.stderr
    no_traceback(done)


def test_a_base_url_with_a_bad_port_is_a_usage_error(tmp_path):
    manifest(tmp_path, 1, digits=1)
    done = run_cli(
        "create", "m.csv", "--base-url", "http://127.0.0.1:99999", cwd=tmp_path, env=cli_env("")
    )
    assert done.returncode == 2
    assert "Error: base URL 'http://127.0.0.1:99999' has no valid port" in done.stderr
    assert not (tmp_path / "m.results.csv").exists()
    no_traceback(done)


def test_a_base_url_whose_path_the_api_lacks_names_the_url_tried(tmp_path, emulator_thread):
    manifest(tmp_path, 2, digits=1)
    with emulator_thread() as emu:
        wrong = f"{emu.url}/v1"
        done = run_cli("create", "m.csv", "--base-url", wrong, cwd=tmp_path, env=cli_env(""))
        posts = emu.record.posts
    assert done.returncode == 3 and posts == 0
    assert f"HTTP 404 (not JSON): '404: Not Found' from GET {wrong}/app" in done.stderr
    assert "check --base-url" in done.stderr
    assert set(results(tmp_path)["status"]) == {"skipped"}
    no_traceback(done)


def test_a_huge_cell_is_read_and_its_row_is_invalid_by_its_body_size(tmp_path, emulator_thread):
    huge = "x" * (2 * 1024 * 1024)  # past both the csv module's 128 KiB and the 1 MiB limit
    manifest(tmp_path, 3, description=["short", huge, "short"], digits=1)
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        names = sorted(emu.names())
    assert done.returncode == 1, done.stderr
    assert names == ["app-0", "app-2"]
    table = results(tmp_path)
    assert list(table["status"]) == ["created", "invalid", "created"]
    error = table["error"][1]
    assert error.startswith("row 2 (line 3): description: the body would be 2,097,")
    assert "--max-body-bytes 1,048,576" in error
    no_traceback(done)


def test_max_body_bytes_is_an_option(tmp_path, emulator_thread):
    manifest(tmp_path, 2, description=["short", "y" * 5000], digits=1)
    with emulator_thread() as emu:
        done = run_cli(
            "create", "m.csv", "--max-body-bytes", "4000", cwd=tmp_path, env=cli_env(emu.url)
        )
    assert done.returncode == 1
    assert list(results(tmp_path)["status"]) == ["created", "invalid"]


def test_a_control_character_in_a_text_makes_the_row_invalid(tmp_path, emulator_thread):
    lines = [
        {"name": "ab\x00c", "gpu_tier": "BASIC", "model_url": URL},
        {"name": "fine", "gpu_tier": "BASIC", "model_url": URL, "description": "a\tb\r\nc"},
        {"name": "bell", "gpu_tier": "BASIC", "model_url": URL, "description": "ring\x07"},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (tmp_path / "m.jsonl").write_text(text)
    with emulator_thread() as emu:
        done = run_cli("create", "m.jsonl", cwd=tmp_path, env=cli_env(emu.url))
        names = emu.names()
    assert done.returncode == 1
    assert names == ["fine"]
    table = results(tmp_path)
    assert list(table["status"]) == ["invalid", "created", "invalid"]
    assert "row 1 (line 1): name: holds the control character U+0000" in table["error"][0]
    assert "row 3 (line 3): description: holds the control character U+0007" in table["error"][2]
    assert "invalid  ab\\x00c " in done.stdout  # shown, not printed as a blank
    no_traceback(done)


def test_a_decimal_comma_in_a_json_lora_cell_gets_the_hint(tmp_path, emulator_thread):
    lora = (
        '[{"id": "1", "versionId": "2", "downloadUrl": "https://civitai.com/d/2", '
        '"name": "L", "weight": 0,8}]'
    )
    manifest(tmp_path, 2, loras=[lora, ""], digits=1)
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        names = emu.names()
    assert done.returncode == 1 and names == ["app-1"]
    error = results(tmp_path)["error"][0]
    assert "loras: not valid JSON" in error and "use a decimal point (0.8, not 0,8)" in error


def test_a_folder_named_like_a_manifest_is_said_to_be_a_folder(tmp_path):
    (tmp_path / "apps.csv").mkdir()
    done = run_cli("create", "apps.csv", "--dry-run", cwd=tmp_path, env=cli_env(""))
    assert done.returncode == 2
    assert "Error: manifest 'apps.csv' is a folder, not a file" in done.stderr
    assert "not found" not in done.stderr


def loras_table(path, text, encoding):
    path.write_bytes(text.encode(encoding))


def test_the_lora_table_has_its_own_encoding_and_a_bom_is_fine(tmp_path, emulator_thread):
    (tmp_path / "m.csv").write_bytes(
        f"name,gpu_tier,model_url,description\nCafé,BASIC,{URL},Crème brûlée\n".encode("cp1252")
    )
    loras_table(
        tmp_path / "l.csv",
        "app,id,versionId,downloadUrl,name,weight\n"
        "Café,1,2,https://civitai.com/d/2,Ünïcode LoRA,0.5\n",
        "utf-8-sig",
    )
    with emulator_thread() as emu:
        args = ("create", "m.csv", "--loras", "l.csv", "--encoding", "cp1252")
        done = run_cli(*args, cwd=tmp_path, env=cli_env(emu.url))
        apps = list(emu.apps["user_emulated"].values())
    assert done.returncode == 0, done.stderr
    assert [a["name"] for a in apps] == ["Café"]
    assert apps[0]["description"] == "Crème brûlée"
    assert apps[0]["workflow"]["tools"]["loras"][0]["name"] == "Ünïcode LoRA"


def test_a_lora_table_without_its_columns_lists_those_it_has(tmp_path):
    manifest(tmp_path, 1, digits=1)
    (tmp_path / "l.csv").write_text("App;Id;VersionId;DownloadUrl;Name;Weight\n")
    done = run_cli(
        "create", "m.csv", "--loras", "l.csv", "--dry-run", "--delimiter", ",", cwd=tmp_path
    )
    assert done.returncode == 2
    assert "columns found: 'App;Id;VersionId;DownloadUrl;Name;Weight'" in done.stderr
    no_traceback(done)


def stalled_port():
    """A listening socket whose accept queue is full: a connect to it stalls."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    return server, fillers


def test_a_connect_stall_is_a_plain_retry_within_the_connect_timeout(tmp_path):
    manifest(tmp_path, 2, digits=1)
    server, fillers = stalled_port()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        args = ("create", "m.csv", "--base-url", url, "--connect-timeout", "0.2")
        done = run_cli(
            *args, "--max-retries", "1", "--timeout", "30", cwd=tmp_path, env=cli_env(url)
        )
    finally:
        for s in [server, *fillers]:
            s.close()
    assert done.returncode == 3, done.stderr
    assert "could not connect within 0.2 s" in done.stderr
    assert "no answer within" not in done.stderr  # not taken for a request maybe applied
    no_traceback(done)
