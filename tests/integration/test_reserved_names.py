"""Source columns named like the keywords Snowflake refuses as column names even double-quoted
(CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP, CURRENT_USER, LOCALTIME, LOCALTIMESTAMP: "Reserved &
limited keywords"). Target names are the upper-cased source names, so `localtime` would be `"LOCALTIME"`,
which Snowflake (and now the emulator, aurora_sync/stack/emulator/reserved_names.py) refuses. The load
refuses such a table naming the columns and the fix, before anything is created or merged
(stored_procs/sql.py target_columns); a view renaming them loads."""

from __future__ import annotations

import datetime

import pytest

pytestmark = pytest.mark.integration

TARGET = '"ANALYTICS"."PUBLIC"'


def _tables(h, name: str) -> list:
    return h.query(
        'SELECT TABLE_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        "PUBLIC",
        name,
    )


def test_a_table_with_reserved_column_names_is_refused_naming_them_and_the_fix(pg, harness):
    cur = pg.cursor()
    cur.execute(
        'CREATE TABLE public.kw (id int PRIMARY KEY, "localtime" time, "current_date" date, "current_user" text, '
        "note text, updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.kw VALUES (1, '10:11:12', '2026-01-02', 'alice', 'a', '2026-01-01 00:00:00+00'), "
        "(2, NULL, NULL, NULL, 'b', '2026-01-01 00:00:01+00')"
    )
    h = harness.add("public.kw", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    error = t.load["error"]
    assert "columns ['localtime', 'current_date', 'current_user'] of public.kw" in error, error
    assert "refuses as a column name even double-quoted" in error and "Replicate a view that renames them" in error
    assert "note" not in error.split("of public.kw")[0]  # only the refused ones are named
    (manifest,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'kw'")
    assert manifest[0] == "FAILED" and "['localtime', 'current_date', 'current_user']" in manifest[1]
    (run,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('RUNS')} WHERE SOURCE_TABLE = 'kw'")
    assert run[0] == "FAILED" and "Reserved & limited keywords" in run[1]
    assert h.watermark("kw") is None
    assert not _tables(h, "KW")  # nothing created, nothing merged

    # the fix named: a view that renames them loads every value
    cur.execute(
        'CREATE VIEW public.kw_renamed AS SELECT id, "localtime" AS localtime_value, '
        '"current_date" AS current_date_value, "current_user" AS current_user_value, note, updated_at FROM public.kw'
    )
    h2 = harness.add("public.kw_renamed", ["id"], "updated_at")
    (_, t2) = h2.cycle().tables
    assert t2.load["status"] == "SUCCEEDED" and t2.load["rows_inserted"] == 2, t2.load
    rows = h2.query(
        'SELECT "ID", "LOCALTIME_VALUE", "CURRENT_DATE_VALUE", "CURRENT_USER_VALUE", "NOTE" '
        f'FROM {TARGET}."KW_RENAMED" ORDER BY "ID"'
    )
    assert [tuple(r) for r in rows] == [
        (1, datetime.time(10, 11, 12), datetime.date(2026, 1, 2), "alice", "a"),
        (2, None, None, None, "b"),
    ]
    assert h2.watermark("kw_renamed") is not None


def test_a_reserved_column_added_later_fails_the_batch_and_keeps_the_target(pg, harness):
    """Schema drift: a column added under such a name fails the next batch closed; the rows loaded before
    stay, the watermark stays, and the column is named."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.kw_drift (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.kw_drift VALUES (1, 'a', '2026-01-01 00:00:00+00')")
    h = harness.add("public.kw_drift", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    before = h.watermark("kw_drift")
    cur.execute('ALTER TABLE public.kw_drift ADD COLUMN "LocalTimestamp" timestamp')
    cur.execute("INSERT INTO public.kw_drift VALUES (2, 'b', '2026-01-02 00:00:00+00', '2026-01-02 03:04:05')")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED" and "columns ['LocalTimestamp'] of public.kw_drift" in t.load["error"]
    assert h.watermark("kw_drift") == before
    assert [tuple(r) for r in h.query(f'SELECT "ID", "V" FROM {TARGET}."KW_DRIFT" ORDER BY "ID"')] == [(1, "a")]
    columns = h.query(
        'SELECT COLUMN_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        "PUBLIC",
        "KW_DRIFT",
    )
    assert sorted(r[0] for r in columns) == ["ID", "UPDATED_AT", "V"]
