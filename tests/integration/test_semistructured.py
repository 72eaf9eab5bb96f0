"""Values Snowflake would change inside json, jsonb, arrays and time: each loads exactly or is set aside
in QUARANTINE with a reason, never rounded (stored_procs/loading/semistructured.py, docs/CORRECTNESS.md)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.integration

BIG = "123456789012345678901234567890.123456789"  # 39 digits: PARSE_JSON would make it 1.2345678901234568E+29
DIGITS_38 = "12345678901234567890123456789012345678"
DECIMALS_38 = "0." + "1" * 38  # one decimal more than NUMBER's scale holds
DIGITS_40 = "1234567890123456789012345678901234567890"
DECIMALS_40 = "0.1234567890123456789012345678901234567890"

COLUMNS = """id int PRIMARY KEY, v int NOT NULL, doc jsonb, raw json, nums numeric[], tm time, ints int[],
    cash money[], days date[], stamps timestamp[], zoned timestamptz[], floats double precision[]"""

# id -> (column, source value, the reason recorded)
SET_ASIDE: dict[int, tuple[str, str, str]] = {
    1: ("doc", f'{{"amount": {BIG}}}', "DOC (jsonb): a number with more than 38 digits or 37 decimals"),
    2: ("nums", f"{{{BIG}}}", "NUMS (numeric[]): a number with more than 38 digits or 37 decimals"),
    3: ("raw", '{"x": 1e400}', "RAW (json): a number written with an exponent"),
    4: ("raw", '{"x": 1.5e-400}', "RAW (json): a number written with an exponent"),
    5: ("raw", '{"a": 1, "nested": {"a": 2, "a": 3}}', "RAW (json): a JSON object repeats a key"),
    6: ("tm", "24:00:00", "TM (time without time zone): 24:00:00 is past the end of TIME(6)"),
    7: ("ints", "[0:2]={7,8,9}", "INTS (integer[]): an array whose lower bound is not 1"),
    8: ("days", "{2026-01-02,infinity}", "DAYS (date[]): an element is ±infinity, which no DATE holds"),
    9: ("days", "{0044-03-15 BC}", "DAYS (date[]): an element is a BC date or a year past 9999"),
    10: ("stamps", "{-infinity}", "STAMPS (timestamp without time zone[]): an element is ±infinity"),
    11: ("zoned", '{"0044-03-15 10:00+00 BC"}', "ZONED (timestamp with time zone[]): an element is a BC date"),
    12: ("doc", f'{{"x": {DECIMALS_38}}}', "DOC (jsonb): a number with more than 38 digits or 37 decimals"),
    13: ("ints", "[1:1][0:1]={{7,8}}", "INTS (integer[]): an array whose lower bound is not 1"),
    14: ("nums", "{1.5,NaN}", "NUMS (numeric[]): an element is NaN or ±Infinity, which no NUMBER holds"),
    15: ("nums", "{{1.5,2},{Infinity,3}}", "NUMS (numeric[]): an element is NaN or ±Infinity"),
    # issue 12 item 2: 40 digits, 1e400, 40 decimals in jsonb, numeric[] and json (PARSE_JSON makes each a DOUBLE)
    16: ("doc", f'{{"n": {DIGITS_40}}}', "DOC (jsonb): a number with more than 38 digits or 37 decimals"),
    17: ("doc", '{"x": 1e400}', "DOC (jsonb): a number with more than 38 digits or 37 decimals"),  # 401 digits
    18: ("nums", f"{{{DECIMALS_40}}}", "NUMS (numeric[]): a number with more than 38 digits or 37 decimals"),
    19: ("nums", "{1e400}", "NUMS (numeric[]): a number with more than 38 digits or 37 decimals"),
    30: ("raw", f"[{DECIMALS_40}]", "RAW (json): a number with more than 38 digits or 37 decimals"),
    31: ("raw", f'{{"n": -{DIGITS_40}}}', "RAW (json): a number with more than 38 digits or 37 decimals"),
}

# id -> (column, source value, the value expected in the target, read as JSON with exact numbers)
LOADED: dict[int, tuple[str, str, Any]] = {
    20: (
        "doc",
        json.dumps({"n": int(DIGITS_38), "nested": {"a": {"b": [1, {"c": "d"}]}}, "s": f"1e400 [0:2]= {BIG}"}),
        {"n": int(DIGITS_38), "nested": {"a": {"b": [1, {"c": "d"}]}}, "s": f"1e400 [0:2]= {BIG}"},
    ),
    21: (
        "raw",
        r'{"name": "caf\u00e9", "smile": "\ud83d\ude00", "tricky": "a\\\" 1e5 \\", "n": -0.25}',
        {"name": "café", "smile": "\U0001f600", "tricky": 'a\\" 1e5 \\', "n": Decimal("-0.25")},
    ),
    22: ("cash", "{$1.50,$2.00}", [Decimal("1.50"), Decimal("2.00")]),
    23: ("floats", "{1e+20,0.1,-2.5e-7}", [Decimal("1e20"), Decimal("0.1"), Decimal("-2.5e-7")]),
    24: ("days", "{2026-01-02,9999-12-31}", ["2026-01-02", "9999-12-31"]),
    25: ("ints", "{{1,2},{3,4}}", [[1, 2], [3, 4]]),
    26: ("raw", '{"a": 1, "b": {"a": 2}}', {"a": 1, "b": {"a": 2}}),
}


def _exact(text: str | None) -> Any:
    return None if text is None else json.loads(text, parse_float=Decimal)


def _insert(cur: Any, table: str, rows: dict[int, tuple[str, str, Any]]) -> None:
    for key, (column, value, *_) in rows.items():
        cur.execute(f"INSERT INTO public.{table} (id, v, {column}) VALUES (%s, 1, %s)", (key, value))


@pytest.fixture(scope="module")
def loaded(stack: Any, snow: Any) -> dict[str, Any]:
    import psycopg2

    from tests.integration.conftest import Harness

    assert stack.endpoints is not None
    conn = psycopg2.connect(stack.endpoints.pg_dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE public.semi ({COLUMNS})")
    _insert(cur, "semi", SET_ASIDE)
    _insert(cur, "semi", LOADED)
    conn.close()
    h = Harness(stack, snow).add("public.semi", ["id"], "v", late_row_guard="false")
    (t,) = h.cycle().tables
    columns = ", ".join(f'"{c.upper()}"' for c in ("doc", "raw", "nums", "ints", "cash", "days", "floats"))
    target = {r["ID"]: r.as_dict() for r in h.query(f'SELECT "ID", "TM", {columns} FROM "ANALYTICS"."PUBLIC"."SEMI"')}
    quarantined = h.query(
        f"SELECT PRIMARY_KEY, REASON, ROW_VALUES FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'semi'"
    )
    (ledger,) = h.query(
        f"SELECT ROWS_LOADED, ROWS_INSERTED, ROWS_QUARANTINED, STATUS FROM {h.control('MANIFESTS')} "
        "WHERE SOURCE_TABLE = 'semi'"
    )
    return {
        "load": t.load,
        "target": target,
        "reasons": {int(json.loads(r["PRIMARY_KEY"])["ID"]): r["REASON"] for r in quarantined},
        "values": {int(json.loads(r["PRIMARY_KEY"])["ID"]): json.loads(r["ROW_VALUES"]) for r in quarantined},
        "ledger": tuple(ledger),
        "watermark": h.watermark("semi"),
    }


def test_the_batch_accounts_for_every_row_and_the_watermark_moves(loaded):
    rows, set_aside = len(SET_ASIDE) + len(LOADED), len(SET_ASIDE)
    assert loaded["load"]["status"] == "SUCCEEDED", loaded["load"]["error"]
    assert (loaded["load"]["rows_loaded"], loaded["load"]["rows_quarantined"]) == (rows, set_aside)
    assert loaded["ledger"] == (rows, rows - set_aside, set_aside, "LOADED")
    assert sorted(loaded["target"]) == sorted(LOADED)
    assert loaded["watermark"] == "1"


@pytest.mark.parametrize(
    "key", sorted(SET_ASIDE), ids=[f"{SET_ASIDE[k][0]}:{SET_ASIDE[k][1]}" for k in sorted(SET_ASIDE)]
)
def test_a_value_snowflake_would_change_is_quarantined_with_its_reason(loaded, key):
    column, value, reason = SET_ASIDE[key]
    assert key not in loaded["target"]
    assert reason in loaded["reasons"][key]
    assert ";" not in loaded["reasons"][key], loaded["reasons"][key]  # that reason only (reasons are joined by "; ")
    kept = loaded["values"][key][column.upper()]  # the exported text, never a rounded value
    assert BIG in kept if BIG in value else kept is not None
    assert all(digits in kept for digits in re.findall("[0-9]{39,}", value)), kept
    if "1e400" in value and column in ("doc", "nums"):  # jsonb and numeric print every digit
        assert "1" + "0" * 400 in kept


@pytest.mark.parametrize("key", sorted(LOADED), ids=[f"{LOADED[k][0]}:{LOADED[k][1][:30]}" for k in sorted(LOADED)])
def test_a_value_snowflake_holds_loads_exactly(loaded, key):
    column, _, expected = LOADED[key]
    assert _exact(loaded["target"][key][column.upper()]) == expected


def test_time_before_midnight_loads(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.semi_time (id int PRIMARY KEY, tm time, v int NOT NULL)")
    cur.execute("INSERT INTO public.semi_time VALUES (1, '23:59:59.999999', 1), (2, '24:00:00', 1), (3, '00:00', 1)")
    h = harness.add("public.semi_time", ["id"], "v", late_row_guard="false")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 2, 1)
    rows = h.query('SELECT "ID", TO_VARCHAR("TM") AS T FROM "ANALYTICS"."PUBLIC"."SEMI_TIME" ORDER BY "ID"')
    assert [(r[0], r[1][:15]) for r in rows] == [(1, "23:59:59.999999"), (3, "00:00:00")]


def test_with_bad_values_fail_a_rounded_number_fails_the_batch_closed(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.semi_fail (id int PRIMARY KEY, doc jsonb, v int NOT NULL)")
    cur.execute(f"""INSERT INTO public.semi_fail VALUES (1, '{{"ok": 1}}', 1), (2, '{{"amount": {BIG}}}', 1)""")
    h = harness.add("public.semi_fail", ["id"], "v", bad_values='"fail"', late_row_guard="false")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "DOC (jsonb): a number with more than 38 digits or 37 decimals" in t.load["error"]
    assert "(1 rows)" in t.load["error"] and "Nothing was merged" in t.load["error"]
    assert h.watermark("semi_fail") is None
    assert h.query('SELECT COUNT(*) AS N FROM "ANALYTICS"."PUBLIC"."SEMI_FAIL"')[0][0] == 0
    (status,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'semi_fail'")
    assert status[0] == "FAILED" and "DOC (jsonb)" in status[1]
    assert not h.query(f"SELECT 1 AS X FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'semi_fail'")
