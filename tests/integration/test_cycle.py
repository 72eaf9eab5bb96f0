"""The whole cycle on the embedded stack: rows in the target, the watermark, the ledger, RUNS."""

from __future__ import annotations

import json

import boto3

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX
from sync_contract.manifest import manifest_key, parse_manifest
from tests.integration.signed import signed_body


def _target(h, table: str, order: str = '"ID"') -> list[tuple]:
    return [tuple(r) for r in h.query(f'SELECT * FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY {order}')]


def test_initial_incremental_and_no_change_cycles(pg, harness):
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.cyc_orders (id bigint PRIMARY KEY, status text, amount numeric(10,2), "
        "updated_at timestamptz NOT NULL)"
    )
    cur.execute(
        "INSERT INTO public.cyc_orders SELECT g, 'new', g * 1.25, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' + g * INTERVAL '1 minute' FROM generate_series(1, 500) g"
    )
    h = harness.add("public.cyc_orders", ["id"], "updated_at")

    first = h.cycle()
    assert not first.failed
    (t,) = first.tables
    assert t.export["rows"] == 500
    assert (t.load["status"], t.load["rows_loaded"], t.load["rows_inserted"]) == ("SUCCEEDED", 500, 500)
    assert h.watermark("cyc_orders") == "2026-01-01 08:20:00+00"
    assert h.query('SELECT COUNT(*), SUM("AMOUNT") FROM "ANALYTICS"."PUBLIC"."CYC_ORDERS"')[0] == (500, 156562.50)

    cur.execute("UPDATE public.cyc_orders SET status = 'paid', updated_at = now() WHERE id <= 10")
    cur.execute("INSERT INTO public.cyc_orders VALUES (501, 'new', 1, now())")
    second = h.cycle()
    (t,) = second.tables
    assert (t.load["rows_loaded"], t.load["rows_inserted"], t.load["rows_updated"]) == (11, 1, 10)
    cur.execute("SELECT max(updated_at)::text FROM public.cyc_orders")
    assert h.watermark("cyc_orders") == cur.fetchone()[0]
    assert t.load["watermark_before"] == "2026-01-01 08:20:00+00"
    assert t.load["watermark_after"] == h.watermark("cyc_orders")
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."CYC_ORDERS" WHERE "STATUS" = \'paid\'')[0][0] == 10

    before = _target(h, "CYC_ORDERS")
    manifests = h.query(f"SELECT COUNT(*) FROM {h.control('MANIFESTS')}")[0][0]
    third = h.cycle()
    (t,) = third.tables
    assert t.export["status"] == "no_change"
    assert (t.load["status"], t.load["rows_loaded"], t.load["manifests"]) == ("NO_CHANGE", 0, 0)
    assert _target(h, "CYC_ORDERS") == before
    assert h.query(f"SELECT COUNT(*) FROM {h.control('MANIFESTS')}")[0][0] == manifests

    # a table with nothing to load gets its NO_CHANGE row from the finalizer, and the summary says so
    runs = h.query(f"SELECT STATUS, ROWS_LOADED FROM {h.control('RUNS')} ORDER BY STARTED_AT")
    assert [tuple(r) for r in runs] == [("SUCCEEDED", 500), ("SUCCEEDED", 11), ("NO_CHANGE", 0)]
    (summary,) = h.query(f"SELECT SUMMARY FROM {h.control('RUN_SUMMARIES')} WHERE RUN_ID = ?", third.run_id)
    assert json.loads(summary[0])["tables"]["public.cyc_orders"]["status"] == "NO_CHANGE"
    statuses = h.query(f"SELECT DISTINCT STATUS FROM {h.control('MANIFESTS')}")
    assert [r[0] for r in statuses] == ["LOADED"]


def test_full_mode_applies_inserts_updates_and_deletes(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.cyc_countries (code char(2) PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.cyc_countries VALUES ('DE', 'Germany'), ('FR', 'France'), ('NZ', 'NZ')")
    h = harness.add("public.cyc_countries", ["code"])
    assert not h.cycle().failed
    cur.execute("DELETE FROM public.cyc_countries WHERE code = 'NZ'")
    cur.execute("UPDATE public.cyc_countries SET name = 'République française' WHERE code = 'FR'")
    cur.execute("INSERT INTO public.cyc_countries VALUES ('CA', 'Canada')")
    (t,) = h.cycle().tables
    assert (t.load["rows_inserted"], t.load["rows_updated"], t.load["rows_deleted"]) == (1, 1, 1)
    assert _target(h, "CYC_COUNTRIES", '"CODE"') == [
        ("CA", "Canada"),
        ("DE", "Germany"),
        ("FR", "République française"),
    ]
    (t,) = h.cycle().tables
    assert t.export["status"] == "no_change"
    assert t.load["rows_loaded"] == 0


def test_composite_key_and_names_that_need_quoting(pg, harness):
    cur = pg.cursor()
    cur.execute('CREATE SCHEMA IF NOT EXISTS "Mixed Case"')
    cur.execute(
        'CREATE TABLE "Mixed Case"."Line Items" ("Order Id" int, "select" smallint, "CamelCase" text, '
        '"Updated At" timestamp NOT NULL, PRIMARY KEY ("Order Id", "select"))'
    )
    cur.execute(
        "INSERT INTO \"Mixed Case\".\"Line Items\" SELECT o, l, o || '-' || l, TIMESTAMP '2026-01-01' + o * "
        "INTERVAL '1 second' FROM generate_series(1, 50) o, generate_series(1, 3) l"
    )
    h = harness.add('"Mixed Case"."Line Items"', ["Order Id", "select"], "Updated At")
    assert not h.cycle().failed
    cur.execute(
        'UPDATE "Mixed Case"."Line Items" SET "CamelCase" = \'changed\', "Updated At" = localtimestamp '
        'WHERE "Order Id" = 7 AND "select" = 2'
    )
    (t,) = h.cycle().tables
    assert (t.load["rows_loaded"], t.load["rows_updated"]) == (1, 1)
    rows = h.query(
        'SELECT "ORDER ID", "SELECT", "CAMELCASE" FROM "ANALYTICS"."MIXED CASE"."LINE ITEMS" '
        'WHERE "ORDER ID" = 7 ORDER BY "SELECT"'
    )
    assert [tuple(r) for r in rows] == [(7, 1, "7-1"), (7, 2, "changed"), (7, 3, "7-3")]
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."MIXED CASE"."LINE ITEMS"')[0][0] == 150


def test_a_batch_whose_files_disagree_with_its_manifest_fails_closed_and_other_tables_go_on(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.cyc_bad (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("CREATE TABLE public.cyc_good (id int PRIMARY KEY, v int NOT NULL)")
    cur.execute("INSERT INTO public.cyc_bad SELECT g, g FROM generate_series(1, 20) g")
    cur.execute("INSERT INTO public.cyc_good SELECT g, g FROM generate_series(1, 20) g")
    h = harness.add("public.cyc_bad", ["id"], "v", late_row_guard="false").add(
        "public.cyc_good", ["id"], "v", late_row_guard="false"
    )
    # export both, then make one manifest claim more rows than its files hold
    results = [h.exporter.export(export_request(h.config, spec, None)) for spec in h.config.tables]
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint)
    key = PREFIX + manifest_key("public", "cyc_bad", results[0]["export_id"])
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    doc["rows"], doc["files"][0]["rows"] = 21, 21
    parse_manifest(doc)  # still a valid manifest: only its counts lie
    s3.put_object(Bucket=BUCKET, Key=key, Body=signed_body(doc))

    bad, good = h.cycle(export=False).tables
    assert bad.failed
    assert "loaded 20 rows, its manifest entry says 21; nothing was merged" in bad.load["error"]
    assert h.watermark("cyc_bad") is None
    status, error = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'cyc_bad'")[0]
    assert status == "FAILED"
    assert "nothing was merged" in error
    assert (
        not h.query(
            "SELECT 1 FROM ANALYTICS.INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'CYC_BAD' AND TABLE_SCHEMA = 'PUBLIC'"
        )
        or h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."CYC_BAD"')[0][0] == 0
    )
    assert not good.failed
    assert good.load["rows_loaded"] == 20
    assert h.watermark("cyc_good") == "20"


def test_a_configured_table_missing_in_the_source_is_reported_and_others_go_on(pg, harness):
    pg.cursor().execute("CREATE TABLE public.cyc_present (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.cyc_present VALUES (1, 1)")
    h = harness.add("public.cyc_absent", ["id"], "v", late_row_guard="false").add(
        "public.cyc_present", ["id"], "v", late_row_guard="false"
    )
    absent, present = h.cycle().tables
    assert absent.failed
    assert "table public.cyc_absent does not exist in the source database" in absent.errors[0]
    assert not present.failed
    assert present.load["rows_loaded"] == 1


def test_a_full_snapshot_that_arrives_late_never_undoes_a_newer_one(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.cyc_late (code text PRIMARY KEY, name text)")
    cur.execute("INSERT INTO public.cyc_late VALUES ('a', 'old'), ('b', 'gone later')")
    h = harness.add("public.cyc_late", ["code"])
    (spec,) = h.config.tables
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint)
    old = h.exporter.export(export_request(h.config, spec, None))  # snapshot 1, delivered late
    key = PREFIX + manifest_key("public", "cyc_late", old["export_id"])
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.delete_object(Bucket=BUCKET, Key=key)

    cur.execute("UPDATE public.cyc_late SET name = 'new' WHERE code = 'a'")
    cur.execute("DELETE FROM public.cyc_late WHERE code = 'b'")
    assert not h.cycle().failed  # snapshot 2 loads
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)  # snapshot 1 shows up now
    (t,) = h.cycle(export=False).tables

    assert t.load["rows_loaded"] == 0
    assert _target(h, "CYC_LATE", '"CODE"') == [("a", "new")]
    status = h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE EXPORT_ID = ?", old["export_id"])
    assert status[0][0] == "SUPERSEDED"


def test_a_batch_after_a_gap_waits_without_using_up_its_attempts(pg, harness):
    pg.cursor().execute("CREATE TABLE public.cyc_gap (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.cyc_gap SELECT g, g FROM generate_series(1, 10) g")
    h = harness.add("public.cyc_gap", ["id"], "v", late_row_guard="false")
    (spec,) = h.config.tables
    h.exporter.export(export_request(h.config, spec, "5"))  # starts at 5, but nothing is loaded yet
    for _ in range(4):
        (t,) = h.cycle(export=False).tables
        assert not t.failed
        assert (t.load["rows_loaded"], t.load["waiting_batches"]) == (0, 1)
        assert "after the loaded watermark" in t.load["notes"]
    status = h.query(f"SELECT STATUS, ATTEMPTS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'cyc_gap'")
    assert tuple(status[0]) == ("NEW", 0)

    (t,) = h.cycle().tables  # the export from the (empty) watermark covers the gap
    assert (t.load["rows_loaded"], t.load["waiting_batches"]) == (10, 0)
    assert h.watermark("cyc_gap") == "10"
    statuses = h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'cyc_gap' ORDER BY STATUS")
    assert [r[0] for r in statuses] == ["LOADED", "SUPERSEDED"]


def test_the_local_run_executes_the_task_graph_and_skips_loads_when_intake_fails(pg, harness, monkeypatch):
    pg.cursor().execute("CREATE TABLE public.cyc_graph (id int PRIMARY KEY, v int NOT NULL)")
    pg.cursor().execute("INSERT INTO public.cyc_graph VALUES (1, 1)")
    h = harness.add("public.cyc_graph", ["id"], "v", late_row_guard="false")
    report = h.cycle()
    load_task = "LANE_1"  # one table: one load lane
    assert report.tasks == {
        "ROOT": "SUCCEEDED",
        "REQUEST_EXPORTS": "SUCCEEDED",
        "INTAKE": "SUCCEEDED",
        load_task: "SUCCEEDED",
        "FINALIZER": "SUCCEEDED",
    }
    # intake can no longer run at all: INBOX without its FILE_NAME column, which the control DDL (run only
    # when its definition changes: cycle_state) does not add back
    h.query(f"DROP TABLE {h.control('INBOX')}")
    h.query(f"CREATE TABLE {h.control('INBOX')} (DOC VARIANT)")
    pg.cursor().execute("INSERT INTO public.cyc_graph VALUES (2, 2)")
    report = h.cycle()
    assert (report.tasks["INTAKE"], report.tasks[load_task], report.tasks["FINALIZER"]) == (
        "FAILED",
        "SKIPPED",
        "SUCCEEDED",
    )
    (table,) = report.tables
    assert table.failed
    assert table.errors[-1].startswith("intake failed, nothing loaded")
    assert h.watermark("cyc_graph") == "1"
