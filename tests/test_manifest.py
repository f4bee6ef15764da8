"""Reading manifests: every format, every LoRA form, and the manifests that cannot be used."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bulk._shared.errors import ManifestError

from .helpers import SAMPLES, URL, build_rows, read_manifest

LORA = {
    "id": "007310",
    "versionId": "244808",
    "name": "Pixel",
    "weight": 0.5,
    "downloadUrl": "https://civitai.com/api/download/models/244808",
}


def bodies(path, **kw):
    return [r.body for r in build_rows(read_manifest(path, **kw).records)]


def test_csv_cells_are_read_as_text(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "name,gpu_tier,model_url,active_workers,loras\n"
        f'0012,basic,{URL},3.0,"{json.dumps([LORA]).replace(chr(34), chr(34) * 2)}"\n'
        f"App,BASIC,{URL},,\n"
    )
    first, second = bodies(path)
    assert first["name"] == "0012" and first["configuration"]["active_workers"] == 3
    assert first["workflow"]["tools"]["loras"][0]["id"] == "007310"
    assert second == {
        "name": "App",
        "configuration": {"gpu_tier": "BASIC"},
        "workflow": {"model_url": URL},
    }


def test_parquet_native_list_of_structs_keeps_ids_and_types(tmp_path):
    path = tmp_path / "m.parquet"
    lora = {**LORA, "id": 212532}
    pq.write_table(
        pa.table(
            {
                "name": ["a", "b"],
                "gpu_tier": ["BASIC", "STANDARD"],
                "model_url": [URL, URL],
                "active_workers": [2, None],
                "loras": [[lora], None],
            }
        ),
        path,
    )
    first, second = bodies(path)
    assert first["workflow"]["tools"]["loras"][0]["id"] == "212532"
    assert first["configuration"]["active_workers"] == 2
    assert "active_workers" not in second["configuration"] and "tools" not in second["workflow"]


def test_parquet_string_column_of_json(tmp_path):
    path = tmp_path / "m.parquet"
    pd.DataFrame(
        {"name": ["a"], "gpu_tier": ["BASIC"], "model_url": [URL], "loras": [json.dumps([LORA])]}
    ).to_parquet(path)
    assert bodies(path)[0]["workflow"]["tools"]["loras"][0]["versionId"] == "244808"


def test_jsonl_nested_api_body_and_flat_lines(tmp_path):
    path = tmp_path / "m.jsonl"
    nested = {
        "name": "a",
        "configuration": {"gpu_tier": "basic", "active_workers": 1},
        "workflow": {"model_url": URL, "tools": {"loras": [LORA]}},
    }
    flat = {"name": "b", "gpu_tier": "STANDARD", "model_url": URL}
    path.write_text(json.dumps(nested) + "\n\n" + json.dumps(flat) + "\n")
    first, second = bodies(path)
    assert first == {
        "name": "a",
        "configuration": {"gpu_tier": "BASIC", "active_workers": 1},
        "workflow": {"model_url": URL, "tools": {"loras": [LORA]}},
    }
    assert second["name"] == "b"


def test_ndjson_extension_and_a_broken_line_is_a_row_error(tmp_path):
    path = tmp_path / "m.ndjson"
    path.write_text(
        json.dumps({"name": "a", "gpu_tier": "BASIC", "model_url": URL})
        + '\n{"name": "b", \n[1, 2]\n'
    )
    rows = build_rows(read_manifest(path).records)
    assert rows[0].error is None
    assert (
        rows[1].error == "row 2 (line 2): not valid JSON (Expecting property name "
        "enclosed in double quotes)"
    )
    assert rows[2].error == (
        "row 3 (line 3): not a JSON object; each line must be one object, one app"
    )


def test_a_jsonl_line_nested_too_deeply_is_a_row_error(tmp_path):
    path = tmp_path / "m.jsonl"
    good = json.dumps({"name": "a", "gpu_tier": "BASIC", "model_url": URL})
    path.write_text(good + "\n" + "[" * 100_000 + "\n")
    rows = build_rows(read_manifest(path).records)
    assert rows[0].error is None
    assert rows[1].error == "row 2 (line 2): not valid JSON (nested too deeply)"


def test_dotted_api_names_are_aliases(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame(
        {
            "name": ["a"],
            "configuration.gpu_tier": ["performance"],
            "configuration.active_workers": ["2"],
            "configuration.location": ["eu"],
            "workflow.model_url": [URL],
            "workflow.tools.loras": [json.dumps([LORA])],
        }
    ).to_csv(path, index=False)
    (body,) = bodies(path)
    assert body["configuration"] == {
        "gpu_tier": "PERFORMANCE",
        "active_workers": 2,
        "location": "eu",
    }
    assert body["workflow"]["tools"]["loras"] == [LORA]


def test_a_blank_cell_is_blank_to_the_reader_and_the_validator_alike():
    # One definition of an empty cell: white space beside an alias is no second value.
    frame = pd.DataFrame(
        {"name": ["a"], "gpu_tier": ["  "], "configuration.gpu_tier": ["BASIC"], "model_url": [URL]}
    )
    (row,) = build_rows(read_manifest(frame).records)
    assert row.error is None and row.body["configuration"] == {"gpu_tier": "BASIC"}


def test_a_broken_line_of_a_jsonl_lora_table_stops_the_run(tmp_path):
    table = tmp_path / "loras.jsonl"
    table.write_text(json.dumps({"app": "a", **LORA}) + "\n[1]\n")
    frame = pd.DataFrame({"name": ["a"], "gpu_tier": ["BASIC"], "model_url": [URL]})
    with pytest.raises(ManifestError, match="line 2: not a JSON object"):
        read_manifest(frame, loras=table)


def test_a_field_given_under_both_names_is_a_row_error():
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "gpu_tier": ["BASIC", "BASIC"],
            "model_url": [URL, ""],
            "workflow.model_url": [URL, URL],
        }
    )
    rows = build_rows(read_manifest(frame).records)
    assert rows[0].error == "row 1: model_url: given twice, also as 'workflow.model_url'"
    assert rows[1].error is None and rows[1].body["workflow"]["model_url"] == URL


def test_companion_lora_table_joins_on_app_name(tmp_path):
    manifest, table = tmp_path / "m.csv", tmp_path / "l.csv"
    manifest.write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\nb,BASIC,{URL}\n")
    pd.DataFrame([{"app": "a", **LORA}, {"app": "a", **LORA, "id": "9"}]).to_csv(table, index=False)
    first, second = bodies(manifest, loras=table)
    assert [lo["id"] for lo in first["workflow"]["tools"]["loras"]] == ["007310", "9"]
    assert "tools" not in second["workflow"]


def test_companion_rows_for_unknown_apps_stop_the_run(tmp_path):
    manifest, table = tmp_path / "m.csv", tmp_path / "l.csv"
    manifest.write_text(f"name,gpu_tier,model_url\na,BASIC,{URL}\n")
    pd.DataFrame([{"app": "typo", **LORA}]).to_csv(table, index=False)
    with pytest.raises(ManifestError, match="app 'typo' is not a name in the manifest"):
        read_manifest(manifest, loras=table)


def test_companion_table_missing_a_column(tmp_path):
    table = tmp_path / "l.csv"
    table.write_text("app,id,name\n")
    with pytest.raises(ManifestError, match="has no 'versionId', 'downloadUrl', 'weight' column"):
        read_manifest(
            pd.DataFrame({"name": ["a"], "gpu_tier": ["BASIC"], "model_url": [URL]}), loras=table
        )


def test_dataframe_with_numpy_and_missing_values():
    frame = pd.DataFrame(
        {
            "name": ["a", "b"],
            "gpu_tier": ["BASIC", "STANDARD"],
            "model_url": [URL, URL],
            "active_workers": [2, None],
            "description": [None, "x"],
        }
    )
    first, second = bodies(frame)
    assert first["configuration"]["active_workers"] == 2 and "description" not in first
    assert "active_workers" not in second["configuration"] and second["description"] == "x"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("m.txt", "x", "unknown extension '.txt'; use one of .csv, .jsonl"),
        ("missing.csv", None, "manifest '.*missing.csv' not found"),
        ("empty.csv", "", "is empty"),
        ("cols.csv", "name,model_url\na,b\n", "has no 'gpu_tier' column"),
        ("bad.parquet", "not parquet", "cannot be read as parquet"),
        ("latin.csv", b"name,gpu_tier,model_url\n\xe9t\xe9,BASIC,x\n", "is not UTF-8 text"),
    ],
)
def test_unusable_manifests_raise_one_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(ManifestError, match=message):
        read_manifest(path)


def test_unknown_columns_are_reported_not_silently_dropped():
    frame = pd.DataFrame({"name": ["a"], "gpu_tier": ["BASIC"], "model_url": [URL], "desc": ["x"]})
    assert read_manifest(frame).warnings == [
        "manifest 'DataFrame': column 'desc' is not used (known: name, description, gpu_tier, "
        "active_workers, location, model_url, loras, team_id)"
    ]


@pytest.mark.parametrize("sample", ["apps.csv", "apps.parquet", "apps.jsonl"])
def test_every_sample_format_gives_the_same_bodies(sample):
    expected = bodies(SAMPLES / "apps.csv")
    assert bodies(SAMPLES / sample) == expected
    assert bodies(SAMPLES / "apps_no_loras.csv", loras=SAMPLES / "loras.csv") == expected


def test_samples_cover_zero_one_and_three_loras_and_invalid_rows():
    rows = build_rows(read_manifest(SAMPLES / "apps.csv").records)
    counts = {len((r.body["workflow"].get("tools") or {}).get("loras", [])) for r in rows if r.body}
    assert {0, 1, 3} <= counts and len(rows) >= 20
    assert [r.number for r in rows if r.error] == [7, 12, 16, 20, 22]


def test_a_jsonl_nan_is_a_row_error_not_a_field_that_silently_goes(tmp_path):
    path = tmp_path / "m.jsonl"
    line = {"name": "a", "gpu_tier": "BASIC", "model_url": URL, "active_workers": "NAN"}
    good = json.dumps({**line, "name": "b", "active_workers": 1})
    path.write_text(good + "\n" + json.dumps(line).replace('"NAN"', "NaN") + "\n")
    rows = build_rows(read_manifest(path).records)
    assert rows[0].error is None
    assert rows[1].error == (
        "row 2 (line 2): not valid JSON (NaN is not JSON: leave the field out, or give a number)"
    )
