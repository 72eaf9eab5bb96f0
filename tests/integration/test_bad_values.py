"""Values Snowflake cannot hold: the table's bad_values policy quarantines their rows (default) or fails
the batch; every row is accounted for (docs/CORRECTNESS.md)."""

from __future__ import annotations

import json
import math

import pytest

pytestmark = pytest.mark.integration

BIG_TEXT = 16_777_217  # one character more than a VARCHAR holds


def _create(cur, table: str) -> None:
    cur.execute(
        f"""CREATE TABLE public.{table} (id int PRIMARY KEY, day date, ts timestamptz, amount numeric,
            ratio double precision, doc jsonb, note text, v int NOT NULL)"""
    )
    cur.execute(f"INSERT INTO public.{table} (id, day, amount, v) VALUES (1, '2026-01-02', 12.5, 1)")
    cur.execute(f"INSERT INTO public.{table} (id, day, v) VALUES (2, 'infinity', 1)")
    cur.execute(f"INSERT INTO public.{table} (id, ts, v) VALUES (3, '-infinity', 1)")
    cur.execute(f"INSERT INTO public.{table} (id, amount, v) VALUES (4, 'NaN', 1)")
    cur.execute(f"INSERT INTO public.{table} (id, amount, v) VALUES (5, 1.123456789, 1)")  # scale 2 configured
    cur.execute(
        f"INSERT INTO public.{table} (id, ratio, v) VALUES (6, 'NaN', 1), (7, 'Infinity', 1), (8, '-Infinity', 1)"
    )
    # a large jsonb document (about 1.5 MB) loads as it is
    cur.execute(
        f"INSERT INTO public.{table} (id, doc, v) SELECT 9, jsonb_agg(jsonb_build_object('k', g, 'pad', "
        "repeat('x', 100))), 1 FROM generate_series(1, 12000) g"
    )
    cur.execute(f"INSERT INTO public.{table} (id, day, v) VALUES (10, '0044-03-15 BC', 1)")
    cur.execute(f"INSERT INTO public.{table} (id, note, v) VALUES (11, repeat('y', {BIG_TEXT}), 1)")


def _target(h, table: str) -> dict[int, dict]:
    rows = h.query(
        f'SELECT "ID", "AMOUNT", "RATIO", "DAY", LENGTH(CAST("DOC" AS VARCHAR)) AS DOC_CHARS, '
        f'ARRAY_SIZE("DOC") AS DOC_ITEMS FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'
    )
    return {r["ID"]: r.as_dict() for r in rows}


def test_rows_with_values_snowflake_cannot_hold_are_quarantined_and_the_rest_load(pg, harness):
    cur = pg.cursor()
    _create(cur, "bad_q")
    h = harness.add("public.bad_q", ["id"], "v", numeric_scale="{ amount = 2 }", late_row_guard="false")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    assert (t.load["rows_loaded"], t.load["rows_inserted"], t.load["rows_quarantined"]) == (11, 5, 6)
    assert f"6 rows set aside in {h.control('QUARANTINE')}" in t.load["notes"]

    target = _target(h, "bad_q")
    assert sorted(target) == [1, 6, 7, 8, 9]
    assert str(target[1]["AMOUNT"]) in ("12.5", "12.50") and str(target[1]["DAY"]) == "2026-01-02"
    assert math.isnan(target[6]["RATIO"]) and target[7]["RATIO"] == math.inf and target[8]["RATIO"] == -math.inf
    assert target[9]["DOC_ITEMS"] == 12000 and target[9]["DOC_CHARS"] > 1_400_000

    quarantined = h.query(
        f"SELECT PRIMARY_KEY, REASON, ROW_VALUES, EXPORT_ID FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'bad_q'"
    )
    reasons = {json.loads(r["PRIMARY_KEY"])["ID"]: r["REASON"] for r in quarantined}
    assert sorted(reasons, key=int) == ["2", "3", "4", "5", "10", "11"]
    assert "DAY (date): ±infinity has no DATE value" in reasons["2"]
    assert "TS (timestamp with time zone): ±infinity" in reasons["3"]
    assert "AMOUNT (numeric): NaN or ±Infinity" in reasons["4"]
    assert "does not fit NUMBER(38,2) without rounding" in reasons["5"]
    assert "BC date" in reasons["10"]
    assert f"NOTE (text): longer than {BIG_TEXT - 1} characters" in reasons["11"]
    values = {json.loads(r["PRIMARY_KEY"])["ID"]: json.loads(r["ROW_VALUES"]) for r in quarantined}
    assert values["4"]["AMOUNT"] == "NaN" and len(values["11"]["NOTE"]) == 4096  # cut, not stored whole
    (ledger,) = h.query(
        f"SELECT ROWS_LOADED, ROWS_INSERTED, ROWS_QUARANTINED FROM {h.control('MANIFESTS')} "
        "WHERE SOURCE_TABLE = 'bad_q'"
    )
    assert tuple(ledger) == (11, 5, 6)
    assert h.watermark("bad_q") == "1"

    # the source fixes a value: the next window brings the row in
    cur.execute("UPDATE public.bad_q SET day = '2026-05-01', v = 2 WHERE id = 2")
    (t,) = h.cycle().tables
    assert t.load["rows_inserted"] == 1 and t.load["rows_quarantined"] == 0
    assert str(_target(h, "bad_q")[2]["DAY"]) == "2026-05-01"
    assert h.watermark("bad_q") == "2"


def test_with_bad_values_fail_the_batch_fails_closed_and_names_the_columns(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.bad_f (id int PRIMARY KEY, day date, v int NOT NULL)")
    cur.execute("INSERT INTO public.bad_f VALUES (1, '2026-01-01', 1), (2, 'infinity', 1), (3, '-infinity', 1)")
    h = harness.add("public.bad_f", ["id"], "v", bad_values='"fail"', late_row_guard="false")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "DAY (date): ±infinity has no DATE value (2 rows)" in t.load["error"]
    assert "Nothing was merged" in t.load["error"]
    assert h.watermark("bad_f") is None
    rows = h.query('SELECT COUNT(*) AS N FROM "ANALYTICS"."PUBLIC"."BAD_F"')
    assert rows[0][0] == 0
    (status,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'bad_f'")
    assert status[0] == "FAILED" and "DAY (date)" in status[1]


def test_a_row_whose_key_is_null_is_quarantined_not_inserted_again_every_run(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.bad_nullkey (id int, v int NOT NULL)")  # no primary key constraint
    cur.execute("INSERT INTO public.bad_nullkey VALUES (1, 1), (NULL, 2), (3, 3)")
    h = harness.add("public.bad_nullkey", ["id"], "v", late_row_guard="false")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"], t.load["rows_quarantined"]) == ("SUCCEEDED", 2, 1)
    (reason,) = h.query(f"SELECT REASON FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'bad_nullkey'")
    assert "ID (integer): primary key value is NULL" in reason[0]
    rows = h.query('SELECT "ID" FROM "ANALYTICS"."PUBLIC"."BAD_NULLKEY" ORDER BY "ID"')
    assert [r[0] for r in rows] == [1, 3]
