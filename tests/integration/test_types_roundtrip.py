"""Hard values travel exactly: each asserted value by value in the target."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

TEXTS = {
    1: None,
    2: "",
    3: "comma, separated",
    4: 'say "hello"',
    5: "line one\nline two\r\nline three",
    6: "back\\slash and \\N and \\\\",
    7: "emoji 😀 and ü",
    8: '"',
    9: ",",
    10: "\\N",
}


@pytest.fixture(scope="module")
def loaded(stack, snow):
    import psycopg2

    from tests.integration.conftest import Harness

    conn = psycopg2.connect(stack.endpoints.pg_dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(
        """CREATE TABLE public.rt_values (
            id int PRIMARY KEY, txt text, exact numeric(38,18), big numeric, ts timestamptz, ntz timestamp,
            doc jsonb, ints int[], words text[], uid uuid, raw bytea, day date, flag boolean, ratio double precision,
            v int NOT NULL)"""
    )
    for i, text in TEXTS.items():
        cur.execute("INSERT INTO public.rt_values (id, txt, v) VALUES (%s, %s, 1)", (i, text))
    cur.execute(
        """UPDATE public.rt_values SET
             exact = CASE id WHEN 1 THEN 12345678901234567890.123456789012345678 WHEN 2 THEN -0.000000000000000001
                             WHEN 3 THEN 0 END,
             big = CASE id WHEN 1 THEN 98765432109876543210.123456789 WHEN 2 THEN -1.5 END,
             ts = CASE id WHEN 1 THEN '2026-03-01 12:34:56.789012+05:30'::timestamptz
                          WHEN 2 THEN '2026-03-01 00:00:00-09:30'::timestamptz
                          WHEN 3 THEN '1999-12-31 23:59:59.999999+14'::timestamptz END,
             ntz = CASE id WHEN 1 THEN '2026-03-01 12:34:56.000001'::timestamp END,
             doc = (CASE id WHEN 1 THEN '{"a": [1, 2.5, null], "b": {"c": "d\\"e"}}' WHEN 2 THEN '[]'
                           WHEN 3 THEN '"just a string"' WHEN 4 THEN 'null' END)::jsonb,
             ints = CASE id WHEN 1 THEN ARRAY[1, NULL, 3] WHEN 2 THEN ARRAY[]::int[] END,
             words = CASE id WHEN 1 THEN ARRAY['a,b', 'c"d', NULL] END,
             uid = CASE id WHEN 1 THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid END,
             raw = CASE id WHEN 1 THEN '\\x00ff10'::bytea WHEN 2 THEN ''::bytea END,
             day = CASE id WHEN 1 THEN DATE '2026-02-28' END,
             flag = CASE id WHEN 1 THEN true WHEN 2 THEN false END,
             ratio = CASE id WHEN 1 THEN 0.1 WHEN 2 THEN 1e-300 END"""
    )
    conn.close()
    h = Harness(stack, snow).add("public.rt_values", ["id"], "v", late_row_guard="false")
    report = h.cycle()
    assert not report.failed, report.tables[0].load
    rows = h.query(
        'SELECT "ID", "TXT", "EXACT", "BIG", "TS", "TS" IS NULL AS TS_NULL, "NTZ", "NTZ" IS NULL AS NTZ_NULL, '
        '"DOC", "INTS", "WORDS", "UID", "RAW", "DAY", "FLAG", "RATIO", '
        'CAST("DOC":b:c AS VARCHAR) AS DOC_PATH '
        'FROM "ANALYTICS"."PUBLIC"."RT_VALUES" ORDER BY "ID"'
    )
    return {r["ID"]: r.as_dict() for r in rows}


def test_text_null_and_empty_string_stay_distinct_and_awkward_text_is_exact(loaded):
    assert {i: r["TXT"] for i, r in loaded.items()} == TEXTS


def test_numeric_38_18_and_large_unbounded_values_are_exact(loaded):
    assert loaded[1]["EXACT"] == Decimal("12345678901234567890.123456789012345678")
    assert loaded[2]["EXACT"] == Decimal("-0.000000000000000001")
    assert loaded[3]["EXACT"] == Decimal(0)
    assert loaded[1]["BIG"] == Decimal("98765432109876543210.123456789")
    assert loaded[2]["BIG"] == Decimal("-1.5")
    assert loaded[4]["BIG"] is None


def test_timestamptz_with_non_utc_offsets_keeps_the_instant(loaded):
    assert loaded[1]["TS"] == datetime(2026, 3, 1, 7, 4, 56, 789012, tzinfo=UTC)
    assert loaded[2]["TS"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert loaded[3]["TS"] == datetime(1999, 12, 31, 9, 59, 59, 999999, tzinfo=UTC)
    assert loaded[4]["TS_NULL"] is True
    assert loaded[1]["NTZ"] == datetime(2026, 3, 1, 12, 34, 56, 1)
    assert loaded[2]["NTZ_NULL"] is True


def test_jsonb_lands_as_a_parsed_variant(loaded):
    assert json.loads(loaded[1]["DOC"]) == {"a": [1, 2.5, None], "b": {"c": 'd"e'}}
    assert loaded[1]["DOC_PATH"] == 'd"e'  # path navigation only works on a parsed VARIANT, not a string
    assert json.loads(loaded[2]["DOC"]) == []
    assert json.loads(loaded[3]["DOC"]) == "just a string"
    assert loaded[5]["DOC"] is None


def test_arrays(loaded):
    assert json.loads(loaded[1]["INTS"]) == [1, None, 3]
    assert json.loads(loaded[2]["INTS"]) == []
    assert json.loads(loaded[1]["WORDS"]) == ["a,b", 'c"d', None]
    assert loaded[3]["INTS"] is None


def test_uuid_bytea_date_boolean_float(loaded):
    assert loaded[1]["UID"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert bytes(loaded[1]["RAW"]) == b"\x00\xff\x10"
    assert bytes(loaded[2]["RAW"]) == b""
    assert loaded[3]["RAW"] is None
    assert loaded[1]["DAY"] == date(2026, 2, 28)
    assert (loaded[1]["FLAG"], loaded[2]["FLAG"], loaded[3]["FLAG"]) == (True, False, None)
    assert loaded[1]["RATIO"] == 0.1
    assert loaded[2]["RATIO"] == 1e-300
