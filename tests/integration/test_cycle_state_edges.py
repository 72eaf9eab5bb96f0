"""Edges of the local runner's statement cuts (issue 14): state read once and keyed by (schema, table), the
control DDL gated by its version, RUNS rows written by each load and by the finalizer."""

from __future__ import annotations

from typing import Any

import pytest

from stored_procs.monitoring.views import view_ddl

pytestmark = pytest.mark.integration


def _views(h: Any) -> None:
    for stmt in view_ddl(h.config.place, h.control_schema).values():
        h.query(stmt.text)


def _status(h: Any, table: str) -> tuple:
    _views(h)
    rows = h.query(
        f"SELECT LAST_RUN_STATUS, LAST_SUCCESS_AT IS NULL, LAST_ERROR FROM {h.control('TABLE_STATUS')} "
        "WHERE SOURCE_TABLE = ?",
        table,
    )
    return tuple(rows[0])


def test_tables_whose_names_read_alike_keep_their_own_watermarks(pg, harness):
    """ "atk"."p.q" and "atk.p"."q" are two tables, but CycleState keys everything by `schema.table`
    text: the first table's watermark (100) is used as the second's low, so its rows 1..10 never sync."""
    cur = pg.cursor()
    cur.execute('CREATE SCHEMA IF NOT EXISTS "atk"')
    cur.execute('CREATE SCHEMA IF NOT EXISTS "atk.p"')
    cur.execute('CREATE TABLE "atk"."p.q" (id int PRIMARY KEY, v int NOT NULL)')
    cur.execute('CREATE TABLE "atk.p"."q" (id int PRIMARY KEY, v int NOT NULL)')
    cur.execute('INSERT INTO "atk"."p.q" SELECT g, g FROM generate_series(1, 100) g')
    cur.execute('INSERT INTO "atk.p"."q" SELECT g, g FROM generate_series(1, 10) g')
    h = harness.add('"atk"."p.q"', ["id"], "v", late_row_guard="false")
    h.tables[-1] += 'target = "PUBLIC.ATK_X"\n'
    first = h.cycle()
    assert not first.failed, [t.errors for t in first.failed]
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ATK_X"')[0][0] == 100

    # the operator now replicates the other table instead (sync.toml edited; same control schema)
    h.tables = []
    h.add('"atk.p"."q"', ["id"], "v", late_row_guard="false")
    h.tables[-1] += 'target = "PUBLIC.ATK_Y"\n'
    second = h.cycle()
    assert not second.failed, [t.errors for t in second.failed]
    (t,) = second.tables
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."ATK_Y"')[0][0] == 10, t.export


def test_a_table_that_recovers_with_nothing_new_is_shown_healthy(pg, harness):
    """An export fails once (source renamed away), then works again with nothing new: the table is healthy,
    but no RUNS row is written for a no-change table any more, so TABLE_STATUS keeps LAST_RUN_STATUS FAILED
    (the dashboard lists it as failing) until the source changes."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_rec (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.atk_rec SELECT g, g FROM generate_series(1, 10) g")
    h = harness.add("public.atk_rec", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    cur.execute("ALTER TABLE public.atk_rec RENAME TO atk_rec_away")
    assert h.cycle().failed
    assert _status(h, "atk_rec")[0] == "FAILED"
    cur.execute("ALTER TABLE public.atk_rec_away RENAME TO atk_rec")
    ok = h.cycle()
    assert not ok.failed
    assert ok.tables[0].load["status"] == "NO_CHANGE"
    status = _status(h, "atk_rec")
    assert status[0] != "FAILED", f"healthy table still shown as failing: {status}"


@pytest.mark.parametrize("control", ["RUNS", "LEASES"])
def test_a_control_table_dropped_by_hand_is_recreated(control, pg, harness):
    """Before issue 14 every cycle ran CREATE TABLE IF NOT EXISTS; now only when the DDL's digest changes,
    the cycle-state SELECT (which touches every control table) fails, or a step failed."""
    table = f"atk_{control.lower()}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, g FROM generate_series(1, 10) g")
    h = harness.add(f"public.{table}", ["id"], "v", late_row_guard="false")
    assert not h.cycle().failed
    h.query(f"DROP TABLE {h.control(control)}")
    cur.execute(f"INSERT INTO public.{table} VALUES (11, 11)")
    h.cycle()  # the first cycle after the drop may fail
    cur.execute(f"INSERT INTO public.{table} VALUES (12, 12)")
    third = h.cycle()  # a later one must not: before issue 14 the DDL re-created the table every cycle
    assert not third.failed, [t.errors for t in third.failed]
    assert h.query(f'SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."{table.upper()}"')[0][0] == 12
    rows = h.query(f"SELECT COUNT(*) FROM {h.control(control)}")[0][0]  # it exists again
    assert rows >= (1 if control == "RUNS" else 0)  # RUNS holds the runs since it came back


def test_an_intake_failure_summarizes_a_table_with_pending_manifests_as_not_run(pg, harness, monkeypatch):
    """Before issue 14 the local FINALIZER was runs.finalize: a table with a NEW/FAILED manifest that no
    lane loaded was NOT_RUN (a failure). Now finish() passes pending=set(): it is NO_CHANGE, counted among
    TABLES_SUCCEEDED, while its manifest waits unloaded."""
    import json

    import boto3

    from aurora_sync.cycle import export_request
    from aurora_sync.stack.stack import BUCKET, PREFIX
    from sync_contract.manifest import manifest_key
    from tests.integration.signed import signed_body

    cur = pg.cursor()
    cur.execute("CREATE TABLE public.atk_pa (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("CREATE TABLE public.atk_pb (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.atk_pa SELECT g, g FROM generate_series(1, 5) g")
    cur.execute("INSERT INTO public.atk_pb SELECT g, g FROM generate_series(1, 5) g")
    h = harness.add("public.atk_pa", ["id"], "v", late_row_guard="false").add(
        "public.atk_pb", ["id"], "v", late_row_guard="false"
    )
    assert not h.cycle().failed
    # atk_pb gets a manifest that fails its load (counts lie): FAILED, retried by later runs
    cur.execute("INSERT INTO public.atk_pb VALUES (6, 6)")
    spec_b = h.config.tables[1]
    result = h.exporter.export(export_request(h.config, spec_b, h.watermark("atk_pb")))
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint)
    key = PREFIX + manifest_key("public", "atk_pb", result["export_id"])
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    doc["rows"], doc["files"][0]["rows"] = 2, 2
    s3.put_object(Bucket=BUCKET, Key=key, Body=signed_body(doc))
    assert h.cycle(export=False).failed
    pending = h.query(
        f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'atk_pb' AND STATUS = 'FAILED'"
    )
    assert pending, "setup: atk_pb has a FAILED manifest to retry"
    # intake fails as a whole this cycle (e.g. a warehouse error)
    from stored_procs.loading import intake as intake_module

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("intake broke")

    monkeypatch.setattr(intake_module, "_intake", broken)
    cur.execute("INSERT INTO public.atk_pa VALUES (6, 6)")
    report = h.cycle()
    assert report.tasks["INTAKE"] == "FAILED"
    (summary,) = h.query(f"SELECT SUMMARY FROM {h.control('RUN_SUMMARIES')} WHERE RUN_ID = ?", report.run_id)
    tables = json.loads(summary[0])["tables"]
    assert tables["public.atk_pb"]["status"] != "NO_CHANGE", tables
