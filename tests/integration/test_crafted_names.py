"""Table and column names crafted to break out of quoting, end to end: exported, loaded (merge, shadow
swap, quarantine), reconciled; the names arrive verbatim and nothing else is touched."""

from __future__ import annotations

import json

import pytest

from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id

pytestmark = pytest.mark.integration

TABLE = 'evil"; DROP TABLE decoy; --'
COLUMN = "v'); DELETE FROM decoy; --"
FULL = "full'; --\\x"


def _pg(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def test_crafted_names_stay_names_from_source_to_target(pg, harness):
    cur = pg.cursor()
    cur.execute(
        f'CREATE TABLE public.{_pg(TABLE)} (id int PRIMARY KEY, {_pg(COLUMN)} text, d date, "Upd At" int NOT NULL)'
    )
    cur.execute(f"INSERT INTO public.{_pg(TABLE)} VALUES (1, 'a', '2026-01-01', 1), (2, 'b', 'infinity', 2)")
    cur.execute(f"CREATE TABLE public.{_pg(FULL)} (code int PRIMARY KEY, {_pg(COLUMN)} text)")
    cur.execute(f"INSERT INTO public.{_pg(FULL)} VALUES (1, 'x'), (2, 'y')")
    harness.query('CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."PUBLIC"')
    harness.query('CREATE TABLE IF NOT EXISTS "ANALYTICS"."PUBLIC"."DECOY" ("ID" NUMBER)')
    harness.query('INSERT INTO "ANALYTICS"."PUBLIC"."DECOY" ("ID") SELECT 1 AS "ID"')
    source = "public." + _pg(TABLE)
    full = "public." + _pg(FULL)
    h = harness.add(source, ["id"], "Upd At", late_row_guard="false").add(full, ["code"])

    report = h.cycle()
    assert not report.failed, [t.load for t in report.tables]
    cur.execute(f"UPDATE public.{_pg(FULL)} SET {_pg(COLUMN)} = 'z' WHERE code = 2")
    cur.execute(f"DELETE FROM public.{_pg(FULL)} WHERE code = 1")
    assert not h.cycle().failed  # the full table is replaced through its shadow table and a swap

    target = '"ANALYTICS"."PUBLIC"."' + TABLE.upper().replace('"', '""') + '"'
    column = '"' + COLUMN.upper().replace('"', '""') + '"'
    assert [tuple(r) for r in h.query(f'SELECT "ID", {column} FROM {target}')] == [(1, "a")]  # row 2 quarantined
    full_target = '"ANALYTICS"."PUBLIC"."' + FULL.upper() + '"'
    assert [tuple(r) for r in h.query(f'SELECT "CODE", {column} FROM {full_target}')] == [(2, "z")]
    assert h.query('SELECT COUNT(*) AS N FROM "ANALYTICS"."PUBLIC"."DECOY"')[0][0] >= 1  # untouched
    (quarantined,) = h.query(f"SELECT ROW_VALUES FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = ?", TABLE)
    assert json.loads(quarantined[0])[COLUMN.upper()] == "b"
    assert h.watermark(TABLE) == "2"

    config = h.config
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    spec_full = next(t for t in config.tables if t.source_table == FULL)
    bucketed = reconcile_table(h.snow, config.place, config.database, spec_full, exporter.reconcile, new_run_id())
    assert bucketed["status"] == "CLEAN", bucketed
    (exact,) = reconcile(h.snow, config.source_dsn, config.database, [spec_full])
    assert exact.clean, exact
