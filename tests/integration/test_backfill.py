"""Columns PostgreSQL fills for existing rows without moving the watermark (docs/CORRECTNESS.md): an
added GENERATED or DEFAULT column, a column dropped and added again, a type change that rewrote the
table, and renames. After the next cycle every target row carries the source's values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from stored_procs.configuration.table_config import resync_table
from sync_contract.manifest import latest_export_key

pytestmark = pytest.mark.integration


def _synced(pg: Any, harness: Any, name: str, rows: int = 20, **extra: str) -> Any:
    """public.<name> (id, qty, price, note, updated_at), loaded once by a harness of its own."""
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE public.{name} (id int PRIMARY KEY, qty int NOT NULL, price numeric(10,2) NOT NULL, "
        "note text, updated_at timestamptz NOT NULL DEFAULT now())"
    )
    cur.execute(
        f"INSERT INTO public.{name} (id, qty, price, note) SELECT g, g, 1.25, 'n' || g FROM generate_series(1, %s) g",
        (rows,),
    )
    h = harness.add(f"public.{name}", ["id"], "updated_at", **extra)
    assert not h.cycle().failed
    return h


def _source(pg: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = pg.cursor()
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()]


def _target(h: Any, table: str, columns: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in h.query(f'SELECT {columns} FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY "ID"')]


def _max_watermark(pg: Any, table: str) -> str:
    return str(_source(pg, f"SET TimeZone = 'UTC'; SELECT max(updated_at)::text FROM public.{table}")[0][0])


def test_a_generated_column_reaches_every_row_after_the_next_cycle(pg, harness):
    h = _synced(pg, harness, "gen_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.gen_probe ADD COLUMN total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED")
    cur.execute("UPDATE public.gen_probe SET qty = qty + 1, updated_at = clock_timestamp() WHERE id <= 5")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    expected = [(i, Decimal(str(t))) for i, t in _source(pg, "SELECT id, total FROM public.gen_probe ORDER BY id")]
    got = [(int(i), Decimal(str(v))) for i, v in _target(h, "GEN_PROBE", '"ID", "TOTAL"')]
    assert got == expected and len(got) == 20  # the 15 rows whose watermark did not move too
    assert got[10] == (11, Decimal("13.75"))
    assert "backfill" in t.load["notes"] and "'total' was added with a value for existing rows" in t.load["notes"]
    assert h.watermark("gen_probe") == _max_watermark(pg, "gen_probe")
    (again,) = h.cycle().tables  # the backfill happens once
    assert again.load["status"] == "NO_CHANGE"


def test_a_not_null_default_column_is_filled_without_any_row_changing(pg, harness):
    h = _synced(pg, harness, "default_probe")
    watermark = h.watermark("default_probe")
    pg.cursor().execute("ALTER TABLE public.default_probe ADD COLUMN region text NOT NULL DEFAULT 'eu'")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert _target(h, "DEFAULT_PROBE", '"REGION"') == [("eu",)] * 20
    assert h.watermark("default_probe") == watermark  # no row moved: neither did the watermark


def test_a_rename_keeps_the_values_and_is_reported(pg, harness):
    h = _synced(pg, harness, "rename_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.rename_probe RENAME COLUMN note TO remark")
    cur.execute("UPDATE public.rename_probe SET remark = 'changed', updated_at = clock_timestamp() WHERE id = 1")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    assert "column NOTE renamed to REMARK" in t.load["notes"]
    rows = _target(h, "RENAME_PROBE", '"ID", "REMARK"')
    assert rows[0] == (1, "changed") and rows[1] == (2, "n2") and len(rows) == 20  # not an empty new column
    columns = [
        r[0]
        for r in h.query(
            "SELECT COLUMN_NAME FROM ANALYTICS.INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = 'PUBLIC' AND TABLE_NAME = 'RENAME_PROBE'"
        )
    ]
    assert "NOTE" not in columns and "REMARK" in columns
    assert t.load["rows_loaded"] == 1  # a rename alone exports nothing again


def test_a_column_dropped_and_added_again_takes_the_new_values(pg, harness):
    h = _synced(pg, harness, "readd_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.readd_probe DROP COLUMN note")
    cur.execute("ALTER TABLE public.readd_probe ADD COLUMN note text")  # NULL in every existing row
    cur.execute("UPDATE public.readd_probe SET note = 'new', updated_at = clock_timestamp() WHERE id = 2")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    notes = _target(h, "READD_PROBE", '"NOTE"')
    assert notes[1] == ("new",) and notes.count((None,)) == 19  # none of the dropped column's values stay


def test_a_type_change_that_rewrote_the_table_is_loaded_again(pg, harness):
    h = _synced(pg, harness, "rewrite_probe")
    pg.cursor().execute("ALTER TABLE public.rewrite_probe ALTER COLUMN note TYPE varchar(40) USING upper(note)")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert _target(h, "REWRITE_PROBE", '"NOTE"') == [(f"N{i}",) for i in range(1, 21)]


def test_without_the_exporters_backfill_the_batch_fails_closed_naming_the_fix(pg, harness):
    """An exporter that could not compare (its pointer gone, an older version): the loader sees the new
    filled column against the newest loaded export and refuses the batch; a resync fills every row."""
    h = _synced(pg, harness, "net_probe")
    watermark = h.watermark("net_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.net_probe ADD COLUMN total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED")
    cur.execute("UPDATE public.net_probe SET qty = 100, updated_at = clock_timestamp() WHERE id = 1")
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + latest_export_key("public", "net_probe"))
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED"
    assert "'total' was added with a value for existing rows" in t.load["error"]
    assert "RESYNC_TABLE('public.net_probe')" in t.load["error"]
    assert h.watermark("net_probe") == watermark  # nothing merged
    assert _target(h, "NET_PROBE", '"QTY"')[0] == (1,)
    resync_table(h.snow, h.config.place, "public.net_probe", "test-resync")
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    expected = [(i, Decimal(str(v))) for i, v in _source(pg, "SELECT id, total FROM public.net_probe ORDER BY id")]
    assert [(int(i), Decimal(str(v))) for i, v in _target(h, "NET_PROBE", '"ID", "TOTAL"')] == expected
    assert h.watermark("net_probe") == _max_watermark(pg, "net_probe")


def test_a_default_dropped_right_after_the_add_still_fills_every_row(pg, harness):
    """What an ORM migration does (Django's AddField): ADD COLUMN … NOT NULL DEFAULT, then DROP DEFAULT.
    The catalog then has no default, but existing rows read the value (atthasmissing)."""
    h = _synced(pg, harness, "orm_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.orm_probe ADD COLUMN active boolean NOT NULL DEFAULT true")
    cur.execute("ALTER TABLE public.orm_probe ALTER COLUMN active DROP DEFAULT")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert _target(h, "ORM_PROBE", '"ACTIVE"') == [(True,)] * 20


def test_a_table_created_again_with_other_columns_is_loaded_again_not_renamed(pg, harness):
    """A copy-and-swap migration: a new table with `price` where `note` was (same attribute number), the
    rows copied with their watermarks, the old table dropped. Not a rename: every value again."""
    h = _synced(pg, harness, "swap_probe")
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.swap_probe_new (id int PRIMARY KEY, qty int NOT NULL, price numeric(10,2) NOT NULL, "
        "label text, updated_at timestamptz NOT NULL)"
    )
    cur.execute("INSERT INTO public.swap_probe_new SELECT id, qty, price, 'L' || id, updated_at FROM public.swap_probe")
    cur.execute("DROP TABLE public.swap_probe")
    cur.execute("ALTER TABLE public.swap_probe_new RENAME TO swap_probe")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert "renamed" not in (t.load["notes"] or "")
    rows = _target(h, "SWAP_PROBE", '"ID", "LABEL", "NOTE"')
    assert rows[0] == (1, "L1", "n1") and len(rows) == 20  # NOTE kept as it was, LABEL from the source


def test_a_backfill_never_deletes_target_rows(pg, harness):
    """Rows purged from the source stay in the target (delete detection is off: deletes are key sets'
    job); a backfill whose high is below the loaded watermark (the newest row deleted) still loads."""
    h = _synced(pg, harness, "purge_probe")
    cur = pg.cursor()
    cur.execute("UPDATE public.purge_probe SET updated_at = clock_timestamp() WHERE id = 20")
    assert not h.cycle().failed
    newest = h.watermark("purge_probe")
    cur.execute("DELETE FROM public.purge_probe WHERE id IN (1, 2, 20)")  # 20: the newest watermark
    cur.execute("ALTER TABLE public.purge_probe ADD COLUMN region text NOT NULL DEFAULT 'eu'")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert t.export["window"]["high"] < newest  # the backfill ends below the loaded watermark
    rows = _target(h, "PURGE_PROBE", '"ID", "REGION"')
    assert len(rows) == 20 and rows[0] == (1, None) and rows[5] == (6, "eu") and rows[19] == (20, None)
    assert h.watermark("purge_probe") == newest
