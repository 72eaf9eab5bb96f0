"""The emulator's PARSE_JSON text rules (aurora_sync/stack/emulator/strict_values.py), as pure functions:
which numbers become the DOUBLE nearest (https://docs.snowflake.com/en/sql-reference/functions/parse_json),
repeated keys refused or the last kept, text inside strings untouched."""

from __future__ import annotations

import json

import pytest

from aurora_sync.stack.emulator.strict_values import parse_json_text, snowflake_numbers

D38 = "9" * 38


@pytest.mark.parametrize(
    ("number", "double"),
    [
        (D38, False),
        ("-" + D38, False),
        ("9" * 39, True),
        ("0." + "1" * 37, False),
        ("0." + "1" * 38, True),
        ("0." + "0" * 36 + "1", False),  # scale 37, one significant digit
        ("1" * 20 + "." + "2" * 18, False),  # 38 digits, scale 18: NUMBER(38, 18)
        ("1" * 20 + "." + "2" * 19, True),
        ("1e2", True),
        ("1.5E-3", True),
        ("-2e+10", True),
        ("123.45", False),
    ],
)
def test_a_number_becomes_a_double_past_number_or_with_an_exponent(number, double):
    out = snowflake_numbers(f'{{"n": {number}, "s": "{number}"}}')
    value = json.loads(out)
    assert value["s"] == number  # a string keeps its text
    if double:
        assert "e" in out.split('"s"')[0] and value["n"] == float(number)
    else:
        assert out == f'{{"n": {number}, "s": "{number}"}}'


def test_a_number_past_double_is_left_as_written():
    assert snowflake_numbers("[1e400, -1e400]") == "[1e400, -1e400]"


def test_repeated_keys_refused_or_the_last_kept_with_numbers_verbatim():
    doc = '{"a": 1, "nested": {"a": 2.50, "a": 3.10}, "s": "x\\"1e5"}'
    with pytest.raises(ValueError, match="Error parsing JSON: duplicate object attribute"):
        parse_json_text(doc, "s")
    assert parse_json_text(doc, "trys") is None
    assert parse_json_text(doc, "d") == '{"a":1,"nested":{"a":3.10},"s":"x\\"1e5"}'
    assert parse_json_text(doc, "tryd") == parse_json_text(doc, "d")


def test_text_that_is_not_json_is_handed_on_or_null():
    assert parse_json_text("nope", "s") == "nope"  # DuckDB's JSON() refuses it next
    assert parse_json_text("nope", "trys") is None
    assert parse_json_text(None, "s") is None
