"""Spreadsheets as they really come: forgiving headers, sniffed delimiters, other
encodings, empty lines, extra cells, .tsv and .xlsx; every row error names its line."""

from __future__ import annotations

import builtins

import pandas as pd
import pytest

import bulk

from .helpers import URL, build_rows, cli_env, read_manifest, run_cli


def rows_of(path, **reading):
    options = bulk.RunOptions(**reading)
    from bulk._reading.manifest import ManifestReader

    reader = ManifestReader(path, loras=options.loras, reading=options.reading)
    return build_rows([r for chunk in reader for r in chunk])


def test_a_cp1252_semicolon_export_with_spreadsheet_headers_runs(tmp_path, emulator_thread):
    text = (
        "Name;GPU Tier;Model-URL; Description \r\n"
        f"Café;basic;{URL};naïve “quotes”\r\n"
        f"Two;STANDARD;{URL};x;extra\r\n"
        f"Three;BASIC;{URL};\r\n"
        ";;;\r\n"
        "\r\n"
    )
    (tmp_path / "export.csv").write_bytes(text.encode("cp1252"))
    with emulator_thread() as emu:
        env = cli_env(emu.url)
        wrong = run_cli("create", "export.csv", cwd=tmp_path, env=env)
        done = run_cli("create", "export.csv", "--encoding", "cp1252", cwd=tmp_path, env=env)
        names = sorted(emu.names())
    assert wrong.returncode == 2
    assert "is not UTF-8 text at line 2, byte 4 (0xe9); try --encoding cp1252" in wrong.stderr
    assert done.returncode == 1, done.stderr  # the line with an extra cell
    assert names == ["Café", "Three"]
    results = pd.read_csv(tmp_path / "export.results.csv")
    assert len(results) == 3  # the empty lines are no rows
    error = results.error[results.name == "Two"].item()
    assert error.startswith("row 2 (line 3): has 5 cells but the header has 4: 'extra'")
    body = next(b for b in emu.record.bodies if b["name"] == "Café")
    assert body["description"] == "naïve “quotes”" and body["configuration"]["gpu_tier"] == "BASIC"


@pytest.mark.parametrize(
    "header", ["name,gpu_tier,model_url", " Name ,GPU Tier,Model-URL", "NAME,gpu-tier,MODEL URL"]
)
def test_headers_are_forgiven_like_values(tmp_path, header):
    path = tmp_path / "m.csv"
    path.write_text(f"{header},configuration.active_workers\na,BASIC,{URL},2\n")
    (row,) = rows_of(path)
    assert row.error is None and row.body["configuration"] == {
        "gpu_tier": "BASIC",
        "active_workers": 2,
    }


@pytest.mark.parametrize("delimiter", ["\t", "|", ";"])
def test_the_delimiter_is_sniffed_and_tsv_is_read(tmp_path, delimiter):
    path = tmp_path / ("m.tsv" if delimiter == "\t" else "m.csv")
    path.write_text(
        delimiter.join(["name", "gpu_tier", "model_url"]) + f"\na{delimiter}BASIC{delimiter}{URL}\n"
    )
    (row,) = rows_of(path)
    assert row.error is None and row.name == "a"


def test_a_forced_delimiter_wins_and_a_wrong_one_gets_a_hint(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(f"name;gpu_tier;model_url\na;BASIC;{URL}\n")
    (row,) = rows_of(path, delimiter=";")
    assert row.error is None
    with pytest.raises(bulk.ManifestError, match="it looks ';'-separated: pass --delimiter ';'"):
        rows_of(path, delimiter=",")


def test_every_row_error_names_the_spreadsheet_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(f"name,gpu_tier,model_url\n\na,BASIC,{URL}\nb,NOPE,{URL}\n")
    rows = rows_of(path)
    assert (
        rows[1].error
        == "row 2 (line 4): gpu_tier: 'NOPE' is not one of BASIC, STANDARD, PERFORMANCE"
    )


def test_a_decimal_comma_gets_a_hint(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(f'name;gpu_tier;model_url;active_workers\na;BASIC;{URL};"1,5"\n')
    (row,) = rows_of(path)
    assert row.error.endswith("got '1,5'; use a decimal point (0.7, not 0,7)")


def test_an_xlsx_manifest_is_read_from_its_first_sheet_or_the_one_named(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="the excel extra (openpyxl) is not installed")
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["name", "GPU Tier", "model_url", "active_workers"])
    first.append(["from-notes", "BASIC", URL, 1])
    apps = book.create_sheet("Apps")
    apps.append(["name", "GPU Tier", "model_url", "active_workers"])
    apps.append([None, None, None, None])
    apps.append(["a", "basic", URL, 2])
    apps.append(["b", "NOPE", URL, 0])
    book.save(tmp_path / "m.xlsx")
    (row,) = rows_of(tmp_path / "m.xlsx")
    assert row.name == "from-notes" and row.error is None
    rows = rows_of(tmp_path / "m.xlsx", sheet="Apps")
    assert rows[0].body["configuration"] == {"gpu_tier": "BASIC", "active_workers": 2}
    assert rows[1].error.startswith("row 2 (line 4): gpu_tier:")
    with pytest.raises(bulk.ManifestError, match="no sheet 'Nope' \\(sheets: 'Notes', 'Apps'\\)"):
        rows_of(tmp_path / "m.xlsx", sheet="Nope")


def test_without_openpyxl_the_error_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "m.xlsx").write_bytes(b"PK")
    real_import = builtins.__import__

    def no_openpyxl(name, *args, **kwargs):
        if name.startswith("openpyxl"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openpyxl)
    with pytest.raises(bulk.ManifestError, match=r"pip install openpyxl "):
        read_manifest(tmp_path / "m.xlsx")


def test_a_lora_table_with_spreadsheet_headers_is_read(tmp_path):
    table = tmp_path / "loras.csv"
    table.write_text(
        "App,ID,Version Id,Download-URL,Name,Weight\n"
        "a,1,2,https://civitai.com/api/download/models/2,L,0.8\n"
    )
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\n")
    (row,) = rows_of(manifest, loras=table)
    assert row.error is None
    assert row.body["workflow"]["tools"]["loras"][0]["versionId"] == "2"


def test_the_first_sheet_hint_and_a_sheet_named_for_a_csv(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="the excel extra (openpyxl) is not installed")
    book = openpyxl.Workbook()
    book.active.append(["This sheet is notes"])
    book.create_sheet("Apps").append(["name", "gpu_tier", "model_url"])
    book.save(tmp_path / "m.xlsx")
    with pytest.raises(bulk.ManifestError, match="first sheet: name another with --sheet"):
        rows_of(tmp_path / "m.xlsx")
    from bulk._reading.manifest import ManifestReader

    (tmp_path / "m.csv").write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\n")
    reader = ManifestReader(tmp_path / "m.csv", reading=bulk.RunOptions(sheet="Apps").reading)
    list(reader)
    assert "--sheet 'Apps' is for .xlsx manifests; ignored" in reader.warnings
