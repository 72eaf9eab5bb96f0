"""Hard deletes without CDC: key-set exports find rows gone from the source; the target deletes them
(or flags them `_DELETED`), never more than max_delete_fraction of it at once."""

from __future__ import annotations

import pytest

from aurora_sync.cycle import export_request
from tests.integration.crashes import compare

pytestmark = pytest.mark.integration


def _orders(pg, name: str, rows: int = 20) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute(f"INSERT INTO public.{name} SELECT g, 'v' || g, now() FROM generate_series(1, {rows}) g")


def _ids(h, table: str, where: str = "") -> list[int]:
    return [r[0] for r in h.query(f'SELECT "ID" FROM "ANALYTICS"."PUBLIC"."{table}" {where} ORDER BY "ID"')]


def test_rows_deleted_in_the_source_are_deleted_in_the_target(pg, harness):
    _orders(pg, "del_hard")
    h = harness.add("public.del_hard", ["id"], "updated_at", delete_detection="'delete'", keys_interval_hours="0")
    assert not h.cycle().failed
    cur = pg.cursor()
    cur.execute("DELETE FROM public.del_hard WHERE id IN (3, 4)")
    cur.execute("INSERT INTO public.del_hard VALUES (21, 'new', clock_timestamp())")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    assert t.load["rows_deleted"] == 2 and "2 target rows deleted" in t.load["notes"]
    assert _ids(h, "DEL_HARD") == [i for i in range(1, 22) if i not in (3, 4)]
    assert compare(h).details == []
    kinds = h.query(
        f"SELECT MODE, STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'del_hard' AND MODE = 'keys'"
    )
    assert {tuple(r) for r in kinds} <= {("keys", "LOADED"), ("keys", "SUPERSEDED")}
    assert h.watermark("del_hard") is not None


def test_soft_delete_flags_the_row_and_a_key_that_comes_back_is_live_again(pg, harness):
    _orders(pg, "del_soft")
    h = harness.add("public.del_soft", ["id"], "updated_at", delete_detection="'soft_delete'", keys_interval_hours="0")
    assert not h.cycle().failed
    cur = pg.cursor()
    cur.execute("DELETE FROM public.del_soft WHERE id = 5")
    assert not h.cycle().failed
    flagged = h.query(
        'SELECT "ID", "_DELETED", "_DELETED_AT" IS NOT NULL FROM "ANALYTICS"."PUBLIC"."DEL_SOFT" WHERE "_DELETED"'
    )
    assert [tuple(r) for r in flagged] == [(5, True, True)]
    assert compare(h).details == []  # reconciliation counts live rows only
    cur.execute("INSERT INTO public.del_soft VALUES (5, 'back', clock_timestamp())")
    assert not h.cycle().failed
    row = h.query('SELECT "V", "_DELETED" FROM "ANALYTICS"."PUBLIC"."DEL_SOFT" WHERE "ID" = 5')[0]
    assert tuple(row) == ("back", False)


def test_a_key_set_that_would_wipe_the_table_is_refused(pg, harness):
    _orders(pg, "del_guard")
    h = harness.add("public.del_guard", ["id"], "updated_at", delete_detection="'delete'", keys_interval_hours="0")
    assert not h.cycle().failed
    pg.cursor().execute("DELETE FROM public.del_guard WHERE id > 2")  # 18 of 20 gone: 90% > 25%
    (t,) = h.cycle().tables
    assert t.failed
    assert "would delete 18 of 20 target rows, more than max_delete_fraction = 0.25" in t.load["error"]
    assert len(_ids(h, "DEL_GUARD")) == 20  # nothing deleted
    status = h.query(
        f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'del_guard' AND MODE = 'keys' "
        "AND STATUS <> 'LOADED'"
    )
    assert [r[0] for r in status] == ["QUARANTINED"]


def test_a_row_written_after_the_key_set_snapshot_is_never_deleted_by_it(pg, harness):
    """The key set only judges rows at or below its own high watermark."""
    _orders(pg, "del_race")
    h = harness.add("public.del_race", ["id"], "updated_at", delete_detection="'delete'", keys_interval_hours="24")
    assert not h.cycle().failed  # the first key set (none yet); the next is due in 24 h
    # a key set exported now, taken in only after a newer row exists: the next cycle loads both
    keys = h.exporter.export(export_request(h.config, h.config.tables[0], None, keys=True))
    assert keys["status"] == "exported"
    pg.cursor().execute("INSERT INTO public.del_race VALUES (99, 'later', clock_timestamp())")
    (t,) = h.cycle().tables
    assert not t.failed and "20 keys, 0 target rows deleted" in t.load["notes"]
    assert 99 in _ids(h, "DEL_RACE") and compare(h).details == []
