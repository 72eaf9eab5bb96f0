"""Columns PostgreSQL fills for existing rows without moving the watermark (docs/CORRECTNESS.md): an
added GENERATED or DEFAULT column, a column dropped and added again, a type change that rewrote the
table, and renames. After the next cycle every target row carries the source's values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from sync_contract.manifest import latest_export_key

pytestmark = pytest.mark.integration


def _synced(pg: Any, harness: Any, name: str, rows: int = 20) -> Any:
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
    h = harness.add(f"public.{name}", ["id"], "updated_at")
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


def test_without_the_exporters_backfill_the_loader_restarts_the_table(pg, harness):
    """An exporter that could not compare (its pointer gone, an older version): the loader sees the new
    filled column against the newest loaded export, merges the batch, and restarts the table."""
    h = _synced(pg, harness, "net_probe")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.net_probe ADD COLUMN total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED")
    cur.execute("UPDATE public.net_probe SET qty = 100, updated_at = clock_timestamp() WHERE id = 1")
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + latest_export_key("public", "net_probe"))
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", (t.export, t.load)
    assert "the table restarts from the beginning" in t.load["notes"]
    assert h.watermark("net_probe") is None
    (t,) = h.cycle().tables
    assert not t.failed, t.load
    expected = [(i, Decimal(str(v))) for i, v in _source(pg, "SELECT id, total FROM public.net_probe ORDER BY id")]
    assert [(int(i), Decimal(str(v))) for i, v in _target(h, "NET_PROBE", '"ID", "TOTAL"')] == expected
    assert h.watermark("net_probe") == _max_watermark(pg, "net_probe")
