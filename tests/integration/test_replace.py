"""Whole-table replacement through a shadow table and one swap: full-mode snapshots and resyncs."""

from __future__ import annotations

import pytest

from stored_procs.configuration.table_config import resync_table
from stored_procs.orchestration.runs import new_run_id
from sync_contract import failpoints
from tests.integration.crashes import compare, cycle_in_child, expire_leases, local_toml

pytestmark = pytest.mark.integration


def _rows(h, table: str) -> list[tuple]:
    return sorted(tuple(r) for r in h.query(f'SELECT * FROM "ANALYTICS"."PUBLIC"."{table.upper()}"'))


def _tables(h) -> set[str]:
    rows = h.query("SELECT TABLE_NAME FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC'")
    return {r[0] for r in rows}


def test_readers_see_the_old_snapshot_or_the_new_one_never_a_half_loaded_table(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.swap_codes (code int PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.swap_codes SELECT g, 'n' || g FROM generate_series(1, 50) g")
    h = harness.add("public.swap_codes", ["code"])
    toml = local_toml(h)
    assert cycle_in_child(toml) == 0
    before = _rows(h, "swap_codes")
    assert len(before) == 50

    cur.execute("DELETE FROM public.swap_codes WHERE code > 40")
    cur.execute("UPDATE public.swap_codes SET name = upper(name) WHERE code <= 10")
    cur.execute("INSERT INTO public.swap_codes SELECT g, 'm' || g FROM generate_series(100, 129) g")
    # killed with the new snapshot loaded into the shadow table and checked, not yet swapped
    assert cycle_in_child(toml, "load:after_shadow") == failpoints.EXIT_CODE
    assert _rows(h, "swap_codes") == before, "the target changed before the swap"
    assert "SWAP_CODES__AURORA_SYNC_SHADOW" in _tables(h)

    expire_leases(h)
    assert cycle_in_child(toml) == 0
    after = _rows(h, "swap_codes")
    assert len(after) == 40 + 30 and (1, "N1") in after and (41, "n41") not in after
    assert "SWAP_CODES__AURORA_SYNC_SHADOW" not in _tables(h)
    assert compare(h).details == []
    run = h.query(
        f"SELECT ROWS_INSERTED, ROWS_UPDATED, ROWS_DELETED FROM {h.control('RUNS')} "
        "WHERE SOURCE_TABLE = 'swap_codes' AND STATUS = 'SUCCEEDED' ORDER BY FINISHED_AT DESC LIMIT 1"
    )
    assert tuple(run[0]) == (30, 10, 10)


def test_resync_replaces_one_table_and_leaves_the_others_alone(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.resync_a (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("CREATE TABLE public.resync_b (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    for t in ("resync_a", "resync_b"):
        cur.execute(f"INSERT INTO public.{t} SELECT g, 'v' || g, now() FROM generate_series(1, 30) g")
    h = harness.add("public.resync_a", ["id"], "updated_at").add("public.resync_b", ["id"], "updated_at")
    h.cycle()
    # hard deletes with delete detection off: the incremental loads cannot see them
    cur.execute("DELETE FROM public.resync_a WHERE id <= 5")
    cur.execute("DELETE FROM public.resync_b WHERE id <= 5")
    cur.execute("UPDATE public.resync_a SET v = 'changed', updated_at = clock_timestamp() WHERE id = 30")
    h.cycle()
    assert len(_rows(h, "resync_a")) == 30
    b_rows, b_watermark = _rows(h, "resync_b"), h.watermark("resync_b")

    summary = resync_table(h.snow, h.config.place, "public.resync_a", new_run_id())
    assert summary["action"] == "resync"
    assert h.watermark("resync_a") is None
    h.cycle()

    a_rows = _rows(h, "resync_a")
    assert [r[0] for r in a_rows] == list(range(6, 31))  # the deleted keys are gone, all at once
    assert a_rows[-1][1] == "changed"
    cur.execute("SELECT max(updated_at)::text FROM public.resync_a")
    assert h.watermark("resync_a") == cur.fetchone()[0]
    assert _rows(h, "resync_b") == b_rows and h.watermark("resync_b") == b_watermark
    assert len(b_rows) == 30  # still holds its deleted keys: only resync_a was resynced


def test_a_quarantined_row_in_a_new_snapshot_keeps_its_previous_version(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.swap_days (code int PRIMARY KEY, day date)")
    cur.execute("INSERT INTO public.swap_days SELECT g, DATE '2026-01-01' + g FROM generate_series(1, 10) g")
    h = harness.add("public.swap_days", ["code"])
    h.cycle()
    cur.execute("UPDATE public.swap_days SET day = 'infinity' WHERE code = 3")
    cur.execute("UPDATE public.swap_days SET day = DATE '2030-01-01' WHERE code = 4")
    cur.execute("DELETE FROM public.swap_days WHERE code = 5")
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_quarantined"], t.load["rows_deleted"]) == ("SUCCEEDED", 1, 1)
    rows = dict(_rows(h, "swap_days"))
    assert sorted(rows) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert str(rows[3]) == "2026-01-04" and str(rows[4]) == "2030-01-01"  # 3: its previous version stays
    (reason,) = h.query(f"SELECT REASON FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'swap_days'")
    assert "±infinity" in reason[0]


def test_a_column_no_longer_exported_keeps_its_values_through_a_replace(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.swap_drop (code int PRIMARY KEY, name text, note text)")
    cur.execute("INSERT INTO public.swap_drop SELECT g, 'n' || g, 'note ' || g FROM generate_series(1, 5) g")
    h = harness.add("public.swap_drop", ["code"])
    h.cycle()
    cur.execute("ALTER TABLE public.swap_drop DROP COLUMN note")
    cur.execute("UPDATE public.swap_drop SET name = 'changed' WHERE code = 2")
    cur.execute("INSERT INTO public.swap_drop VALUES (6, 'n6')")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load["error"]
    assert "no longer exported" in t.load["notes"]
    rows = h.query('SELECT "CODE", "NAME", "NOTE" FROM "ANALYTICS"."PUBLIC"."SWAP_DROP" ORDER BY "CODE"')
    assert [tuple(r) for r in rows] == [
        (1, "n1", "note 1"),
        (2, "changed", "note 2"),
        (3, "n3", "note 3"),
        (4, "n4", "note 4"),
        (5, "n5", "note 5"),
        (6, "n6", None),
    ]
