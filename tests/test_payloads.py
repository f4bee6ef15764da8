"""Validation and bodies: every trap of the manifest cells, without any I/O."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk._reading.records import ManifestRecord
from bulk._shared import jsoncodec
from bulk._validating.payloads import idempotency_key

from .helpers import URL, build_rows

LORA = {
    "id": "212532",
    "versionId": "244808",
    "name": "Disney",
    "weight": 0.8,
    "downloadUrl": "https://civitai.com/api/download/models/244808",
}


def rec(**cells):
    return {"name": "App", "gpu_tier": "STANDARD", "model_url": URL, **cells}


def one(record, **kw):
    (row,) = build_rows([record], **kw)
    return row


def test_minimal_row_builds_the_exact_documented_body():
    row = one(rec(loras=json.dumps([LORA]), description="first"))
    assert row.error is None
    assert row.body == {
        "name": "App",
        "description": "first",
        "configuration": {"gpu_tier": "STANDARD"},
        "workflow": {"model_url": URL, "tools": {"loras": [LORA]}},
    }
    assert json.loads(row.payload) == row.body


@pytest.mark.parametrize("field", ["name", "gpu_tier", "model_url"])
@pytest.mark.parametrize("blank", [None, "", "   ", float("nan"), pd.NA])
def test_required_fields_must_be_present_and_not_blank(field, blank):
    row = one(rec(**{field: blank}))
    assert row.body is None and row.payload == b""
    assert f"row 1: {field}: is required but empty" in row.error


@pytest.mark.parametrize("tier", ["standard", "  Basic ", "PERFORMANCE\t"])
def test_gpu_tier_forgives_case_and_spaces_and_is_sent_upper_case(tier):
    assert one(rec(gpu_tier=tier)).body["configuration"]["gpu_tier"] == tier.strip().upper()


def test_unknown_gpu_tier_names_the_choices():
    error = one(rec(gpu_tier="ULTRA")).error
    assert error == "row 1: gpu_tier: 'ULTRA' is not one of BASIC, STANDARD, PERFORMANCE"


@pytest.mark.parametrize(
    "cell, sent", [("3", 3), ("3.0", 3), (3, 3), (3.0, 3), ("0", 0), (np.int64(4), 4), (" 2 ", 2)]
)
def test_active_workers_whole_numbers_are_sent_as_json_integers(cell, sent):
    row = one(rec(active_workers=cell))
    assert row.body["configuration"]["active_workers"] == sent
    assert f'"active_workers":{sent}' in row.payload.decode()


@pytest.mark.parametrize("cell", ["2.5", "-1", "abc", 2.5, -1, True, "inf"])
def test_active_workers_rejects_fractions_negatives_and_words(cell):
    error = one(rec(active_workers=cell)).error
    assert error.startswith("row 1: active_workers: must be a whole number 0 or more, got")


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "huggingface.co/x", "hf://a/b", "https://", "https://a b"]
)
def test_model_url_must_be_http(url):
    assert "model_url: must be an http(s) URL" in one(rec(model_url=url)).error


def test_lora_download_url_must_be_http():
    error = one(rec(loras=json.dumps([{**LORA, "downloadUrl": "civitai/244808"}]))).error
    assert error == "row 1: loras[1]: downloadUrl must be an http(s) URL, got 'civitai/244808'"


def test_each_lora_needs_all_five_fields():
    partial = {k: v for k, v in LORA.items() if k not in ("versionId", "weight")}
    error = one(rec(loras=json.dumps([LORA, partial]))).error
    assert error == "row 1: loras[2]: missing 'versionId', 'weight'"


def test_lora_ids_are_strings_exactly_as_written():
    cell = (
        '[{"id": "007310", "versionId": 244808, "downloadUrl": "https://c.ai/d/1",'
        ' "name": "x", "weight": 1}]'
    )
    (lora,) = one(rec(loras=cell)).body["workflow"]["tools"]["loras"]
    assert lora["id"] == "007310" and lora["versionId"] == "244808"
    assert lora["weight"] == 1.0 and isinstance(lora["weight"], float)


def test_whole_float_ids_from_pandas_never_become_dot_zero():
    (lora,) = one(rec(loras=[{**LORA, "id": 212532.0, "versionId": np.int64(244808)}])).body[
        "workflow"
    ]["tools"]["loras"]
    assert (lora["id"], lora["versionId"]) == ("212532", "244808")


def test_fractional_lora_id_is_an_error():
    assert (
        "id must be a whole number or a string, got 1.5"
        in one(rec(loras=[{**LORA, "id": 1.5}])).error
    )


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), "heavy", True, None, ""])
def test_lora_weight_must_be_a_finite_number(weight):
    error = one(rec(loras=[{**LORA, "weight": weight}])).error
    assert "loras[1]" in error and "weight" in error


def test_lora_weight_as_text_is_sent_as_a_number():
    (lora,) = one(rec(loras=[{**LORA, "weight": "0.75"}])).body["workflow"]["tools"]["loras"]
    assert lora["weight"] == 0.75


@pytest.mark.parametrize("blank", ["", None, float("nan"), "[]", []])
def test_empty_loras_cell_means_no_loras(blank):
    assert "tools" not in one(rec(loras=blank)).body["workflow"]


def test_empty_optional_cells_are_left_out_never_null_nan_or_nan_text():
    row = one(rec(description=float("nan"), location="", active_workers=None, loras=""))
    assert row.body == {
        "name": "App",
        "configuration": {"gpu_tier": "STANDARD"},
        "workflow": {"model_url": URL},
    }
    text = row.payload.decode().lower()
    assert "null" not in text and "nan" not in text


def test_malformed_json_loras_cell_names_row_and_column():
    rows = build_rows([rec(name="a"), rec(name="b", loras='[{"id": "1"')])
    assert rows[0].error is None
    assert rows[1].error.startswith("row 2: loras: not valid JSON (")


def test_a_cell_nested_too_deeply_is_a_row_error():
    (row,) = build_rows([rec(loras="[" * 100_000)])
    assert row.error.startswith("row 1: loras: not valid JSON (nested too deeply")


def test_a_number_too_long_for_python_is_a_row_error():
    (row,) = build_rows([rec(loras='[{"id": ' + "9" * 5000 + "}]")])
    assert row.error.startswith("row 1: loras: not valid JSON (Exceeds the limit (4300 digits)")


def test_integers_beyond_64_bits_stay_integers():
    assert jsoncodec.loads(b"[-9223372036854775809]") == [-9223372036854775809]
    assert jsoncodec.loads("18446744073709551616") == 18446744073709551616


_PATHOLOGICAL = st.one_of(
    st.integers(1, 200_000).map(lambda n: "[" * n),
    st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 5_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.text(),
    st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "\ud800", '"\\ud800"', "\x00"]),
    st.integers(4_000, 6_000).map(lambda n: "1" * n),  # beyond int's 4,300 digits
    st.integers(4_000, 6_000).map(lambda n: '[{"id": ' + "9" * n + "}]"),
)


@given(
    cell=_PATHOLOGICAL,
    column=st.sampled_from(["loras", "name", "active_workers", "model_url", "gpu_tier"]),
)
def test_pathological_cells_are_row_errors_or_rows_never_tracebacks(cell, column):
    (row,) = build_rows([rec(**{column: cell})])
    assert row.error is None or row.error.startswith(f"row 1: {column}")


def test_loras_cell_that_is_not_an_array():
    assert "loras: must be a JSON array of LoRA objects" in one(rec(loras='{"id": "1"}')).error
    assert "loras[1]: must be an object" in one(rec(loras='["x"]')).error


def test_repeated_name_is_an_error_on_the_later_row_per_team():
    rows = build_rows(
        [
            rec(name="A"),
            rec(name="B"),
            rec(name="A"),
            rec(name="A", team_id="t2"),
            rec(name="A", team_id="t2"),
        ]
    )
    assert [r.error is None for r in rows] == [True, True, False, True, False]
    assert rows[2].error == "row 3: name: 'A' repeats row 1; names must be unique per team"
    assert "repeats row 4 in team 't2'" in rows[4].error


def test_team_column_overrides_the_default_team():
    rows = build_rows(
        [rec(name="a"), rec(name="b", team_id=" t9 "), rec(name="c", team_id=7)], team_id="default"
    )
    assert [r.team for r in rows] == ["default", "t9", "7"]


def test_every_problem_of_a_row_is_reported_at_once():
    error = one(rec(gpu_tier="x", model_url="y", active_workers="z")).error
    assert error.count(";") == 2 and error.startswith("row 1: ")


def test_bad_row_never_stops_the_others():
    rows = build_rows([rec(name="a"), rec(name="", gpu_tier=""), rec(name="c")])
    assert [r.error is None for r in rows] == [True, False, True]


def test_loras_from_the_table_name_their_table_row():
    record = ManifestRecord(rec(), table_loras=((4, LORA), (5, {**LORA, "weight": "x"})))
    assert one(record).error == "row 1: LoRA table row 5: weight must be a finite number, got 'x'"


def test_loras_in_both_the_cell_and_the_table_is_an_error():
    record = ManifestRecord(rec(loras=json.dumps([LORA])), table_loras=((1, LORA),))
    assert "given both in the manifest and in the LoRA table" in one(record).error


def test_idempotency_key_is_stable_and_depends_on_team_name_and_body():
    a = one(rec()).key
    assert a == one(rec()).key and a.startswith("bulk-")
    assert a != one(rec(), team_id="t").key
    assert a != one(rec(description="changed")).key
    assert idempotency_key(None, "x", b"{}") != idempotency_key(None, "y", b"{}")


def test_numbers_in_text_fields_lose_float_noise():
    row = one(rec(name=2024.0, location=5))
    assert row.body["name"] == "2024" and row.body["configuration"]["location"] == "5"


def test_a_lone_surrogate_is_a_row_error_not_a_crash():
    (row,) = build_rows([rec(name="a\ud800")])
    assert row.error == "row 1: name: not valid Unicode (a lone surrogate); fix the escape"
    (row,) = build_rows([rec(loras=[LORA, {**LORA, "id": "\ud800"}])])
    assert row.error == "row 1: loras[2].id: not valid Unicode (a lone surrogate); fix the escape"


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )
)
def test_fast_json_gives_the_standard_librarys_bytes_and_values(value):
    try:
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            jsoncodec.dumps(value)
        return
    got = jsoncodec.dumps(value)
    assert json.loads(got) == json.loads(expected)
    if not _floats(value):  # floats: the same number, perhaps another spelling (1e-05)
        assert got == expected
    assert jsoncodec.loads(expected) == json.loads(expected)


def _floats(value):
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_floats(v) for v in value.values())
    return isinstance(value, list) and any(_floats(v) for v in value)


def test_fast_json_falls_back_for_what_orjson_refuses():
    big = 123456789012345678901234567890
    assert jsoncodec.loads(f"[NaN, {big}]")[1] == big
    assert jsoncodec.dumps({"n": 10**20}) == b'{"n":100000000000000000000}'
    with pytest.raises(ValueError, match="Expecting"):
        jsoncodec.loads("[1,")
