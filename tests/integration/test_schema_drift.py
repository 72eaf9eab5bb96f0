"""Schema drift between two exports of a table: a new column is added, a widening is applied, a
dropped column is kept and reported, an incompatible change quarantines the table (only it)."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.integration


def _table(pg, name: str) -> None:
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE public.{name} (id int PRIMARY KEY, amount numeric(10,2), note varchar(20), "
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute(f"INSERT INTO public.{name} SELECT g, g + 0.25, 'n' || g, now() FROM generate_series(1, 5) g")


def test_added_widened_and_dropped_columns_are_applied_and_reported(pg, harness):
    _table(pg, "drift_ok")
    h = harness.add("public.drift_ok", ["id"], "updated_at")
    assert not h.cycle().failed
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.drift_ok ADD COLUMN region text")
    cur.execute("ALTER TABLE public.drift_ok ALTER COLUMN amount TYPE numeric(14,2)")  # wider, same scale
    cur.execute("ALTER TABLE public.drift_ok ALTER COLUMN note TYPE varchar(200)")  # lands in VARCHAR anyway
    cur.execute("ALTER TABLE public.drift_ok DROP COLUMN note")
    cur.execute(
        "UPDATE public.drift_ok SET amount = 123456789012.34, region = 'eu', updated_at = clock_timestamp() "
        "WHERE id = 1"
    )
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    assert "columns no longer exported, kept in the target" in t.load["notes"] and "'NOTE'" in t.load["notes"]
    row = h.query('SELECT "AMOUNT", "REGION", "NOTE" FROM "ANALYTICS"."PUBLIC"."DRIFT_OK" WHERE "ID" = 1')[0]
    assert (Decimal(str(row[0])), row[1], row[2]) == (Decimal("123456789012.34"), "eu", "n1")
    other = h.query('SELECT "REGION", "NOTE" FROM "ANALYTICS"."PUBLIC"."DRIFT_OK" WHERE "ID" = 2')[0]
    assert tuple(other) == (None, "n2")  # not in this batch: untouched


def test_an_incompatible_type_change_quarantines_only_that_table(pg, harness):
    _table(pg, "drift_bad")
    _table(pg, "drift_fine")
    h = harness.add("public.drift_bad", ["id"], "updated_at").add("public.drift_fine", ["id"], "updated_at")
    assert not h.cycle().failed
    before = h.watermark("drift_bad")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.drift_bad ALTER COLUMN amount TYPE numeric(10,4)")  # more decimals
    cur.execute("UPDATE public.drift_bad SET amount = 1.2345, updated_at = clock_timestamp() WHERE id = 1")
    cur.execute("UPDATE public.drift_fine SET amount = 9.75, updated_at = clock_timestamp() WHERE id = 1")
    bad, fine = h.cycle().tables
    assert bad.failed
    assert "AMOUNT from numeric(10,2) (NUMBER(10,2)) to numeric(10,4) (NUMBER(10,4))" in bad.load["error"]
    status = h.query(
        f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'drift_bad' AND STATUS <> 'LOADED'"
    )
    assert [r[0] for r in status] == ["QUARANTINED"]  # retrying cannot help: not retried
    assert h.watermark("drift_bad") == before
    amount = h.query('SELECT "AMOUNT" FROM "ANALYTICS"."PUBLIC"."DRIFT_BAD" WHERE "ID" = 1')[0][0]
    assert Decimal(str(amount)) == Decimal("1.25")  # never rounded into the old column
    assert not fine.failed and fine.load["rows_loaded"] == 1


def test_a_target_dropped_by_hand_is_refused_until_a_resync_fills_it_whole(pg, harness):
    from stored_procs.configuration.table_config import resync_table

    _table(pg, "drift_gone")
    h = harness.add("public.drift_gone", ["id"], "updated_at")
    assert not h.cycle().failed
    h.query('DROP TABLE "ANALYTICS"."PUBLIC"."DRIFT_GONE"')
    pg.cursor().execute("UPDATE public.drift_gone SET note = 'x', updated_at = clock_timestamp() WHERE id = 1")
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "the target table PUBLIC.DRIFT_GONE does not exist, but earlier exports were loaded" in t.load["error"]
    resync_table(h.snow, h.config.place, "public.drift_gone", "test-resync")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    rows = h.query('SELECT "ID", "NOTE" FROM "ANALYTICS"."PUBLIC"."DRIFT_GONE" ORDER BY "ID"')
    assert [tuple(r) for r in rows] == [(1, "x"), (2, "n2"), (3, "n3"), (4, "n4"), (5, "n5")]
