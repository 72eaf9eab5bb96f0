"""`rename` and `[target] schema_map` (docs/CUSTOMIZATION.md) through the whole load path on the embedded
stack: the primary key and the watermark column renamed, the table mapped into another schema, through the
initial load, updates, bad values (quarantine names target columns), deletes by key sets (hard and soft), a
resync (a replace: the swap) and reconciliation (both the app's and the local runner's) CLEAN."""

from __future__ import annotations

import datetime
import json

import pytest

from aurora_sync.export_client import LocalExporter
from stored_procs.configuration.table_config import resync_table
from stored_procs.monitoring.reconcile import reconcile_table
from stored_procs.orchestration.runs import new_run_id
from tests.integration.crashes import compare

pytestmark = pytest.mark.integration

RENAME = '{ client_id = "CLIENT_KEY", email_address = "EMAIL", changed_at = "MODIFIED_AT" }'
DAY = datetime.date(2026, 3, 1)


def _clients(pg, schema: str, table: str, rows: int = 10) -> None:
    cur = pg.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    cur.execute(
        f"CREATE TABLE {schema}.{table} (client_id int PRIMARY KEY, email_address text, joined date, "
        "changed_at timestamptz NOT NULL)"
    )
    cur.execute(
        f"INSERT INTO {schema}.{table} SELECT g, 'c' || g || '@example.com', DATE '2026-03-01', "
        f"clock_timestamp() FROM generate_series(1, {rows}) g"
    )


def _rows(h, target: str, where: str = "") -> dict[int, tuple]:
    rows = h.query(f'SELECT "CLIENT_KEY", "EMAIL", "JOINED" FROM {target} {where} ORDER BY "CLIENT_KEY"')
    return {r[0]: (r[1], r[2]) for r in rows}


def _columns(h, schema: str, table: str) -> list[str]:
    rows = h.query(
        'SELECT COLUMN_NAME FROM "ANALYTICS".INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? '
        "ORDER BY ORDINAL_POSITION",
        schema,
        table,
    )
    return [r[0] for r in rows]


def _reconciled(h, source: str) -> dict:
    config = h.config
    (spec,) = [s for s in config.tables if s.source == source]
    exporter = LocalExporter(config.source_dsn, config.s3.endpoint_url)
    return reconcile_table(h.snow, config.place, config.database, spec, exporter.reconcile, new_run_id())


def test_a_renamed_key_and_watermark_in_a_mapped_schema_load_update_delete_resync_and_reconcile(pg, harness):
    _clients(pg, "crm_r1", "clients")
    h = harness.add(
        "crm_r1.clients",
        ["client_id"],
        "changed_at",
        rename=RENAME,
        delete_detection="'delete'",
        keys_interval_hours="0",
    )
    h.tables.append('[target]\nschema_map = { crm_r1 = "CRM_RAW" }\n')
    target = '"ANALYTICS"."CRM_RAW"."CLIENTS"'
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"]) == ("SUCCEEDED", 10), t.load
    assert _columns(h, "CRM_RAW", "CLIENTS") == ["CLIENT_KEY", "EMAIL", "JOINED", "MODIFIED_AT"]
    assert _rows(h, target) == {i: (f"c{i}@example.com", DAY) for i in range(1, 11)}
    first = h.watermark("clients")
    (newest,) = h.query(f'SELECT MAX("MODIFIED_AT") FROM {target}')[0]
    assert first is not None and newest is not None

    cur = pg.cursor()
    cur.execute(
        "UPDATE crm_r1.clients SET email_address = 'new@example.com', changed_at = clock_timestamp() "
        "WHERE client_id = 2"
    )
    cur.execute("DELETE FROM crm_r1.clients WHERE client_id IN (3, 4)")
    cur.execute("INSERT INTO crm_r1.clients VALUES (11, 'c11@example.com', 'infinity', clock_timestamp())")
    cur.execute("INSERT INTO crm_r1.clients VALUES (12, 'c12@example.com', DATE '2026-03-01', clock_timestamp())")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert (t.load["rows_updated"], t.load["rows_deleted"], t.load["rows_quarantined"]) == (1, 2, 1), t.load
    expected = {i: (f"c{i}@example.com", DAY) for i in (1, 5, 6, 7, 8, 9, 10, 12)} | {2: ("new@example.com", DAY)}
    assert _rows(h, target) == expected
    assert h.watermark("clients") > first
    (key, reason, values) = h.query(
        f"SELECT PRIMARY_KEY, REASON, ROW_VALUES FROM {h.control('QUARANTINE')} WHERE SOURCE_TABLE = 'clients'"
    )[0]
    assert json.loads(key) == {"CLIENT_KEY": "11"}  # target column names, as in the target table
    assert reason.startswith("JOINED (date):"), reason
    assert json.loads(values)["EMAIL"] == "c11@example.com" and "MODIFIED_AT" in json.loads(values)

    cur.execute(
        "UPDATE crm_r1.clients SET joined = DATE '2026-03-02', changed_at = clock_timestamp() WHERE client_id = 11"
    )
    resync_table(h.snow, h.config.place, "crm_r1.clients", "test-resync")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    assert _rows(h, target) == expected | {11: ("c11@example.com", datetime.date(2026, 3, 2))}
    assert _columns(h, "CRM_RAW", "CLIENTS") == ["CLIENT_KEY", "EMAIL", "JOINED", "MODIFIED_AT"]
    assert not h.query("SELECT 1 FROM \"ANALYTICS\".INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'CRM_R1'")
    assert compare(h).details == []
    report = _reconciled(h, "crm_r1.clients")
    assert (report["status"], report["missing"], report["extra"], report["different"]) == ("CLEAN", 0, 0, 0), report
    assert report["source_rows"] == report["target_rows"] == 10


def test_soft_deletes_flag_rows_by_the_renamed_key_and_reconcile_live_rows(pg, harness):
    _clients(pg, "public", "clients_soft", rows=6)
    h = harness.add(
        "public.clients_soft",
        ["client_id"],
        "changed_at",
        rename=RENAME,
        delete_detection="'soft_delete'",
        keys_interval_hours="0",
    )
    target = '"ANALYTICS"."PUBLIC"."CLIENTS_SOFT"'
    assert not h.cycle().failed
    pg.cursor().execute("DELETE FROM public.clients_soft WHERE client_id = 5")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED" and t.load["rows_deleted"] == 1, t.load
    flagged = h.query(f'SELECT "CLIENT_KEY", "_DELETED" FROM {target} WHERE "_DELETED" ORDER BY 1')
    assert [tuple(r) for r in flagged] == [(5, True)]
    assert compare(h).details == []
    report = _reconciled(h, "public.clients_soft")
    assert (report["status"], report["source_rows"], report["target_rows"]) == ("CLEAN", 5, 5), report


def test_a_rename_of_a_missing_column_fails_the_load_naming_it_and_fixing_it_loads_every_row(pg, harness):
    _clients(pg, "public", "clients_typo", rows=3)
    h = harness.add("public.clients_typo", ["client_id"], "changed_at", rename='{ emial_address = "EMAIL" }')
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED", t.load
    assert "rename.emial_address of public.clients_typo: renames column 'emial_address'" in t.load["error"]
    assert "which the table does not have" in t.load["error"]
    (manifest,) = h.query(f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'clients_typo'")
    assert manifest[0] == "FAILED" and "rename.emial_address" in manifest[1]
    assert h.watermark("clients_typo") is None and _columns(h, "PUBLIC", "CLIENTS_TYPO") == []  # nothing created

    h.tables[0] = h.tables[0].replace("emial_address", "email_address")  # the fix: a new rename restarts it
    h._config = None
    (t,) = h.cycle().tables
    assert (t.load["status"], t.load["rows_inserted"]) == ("SUCCEEDED", 3), t.load
    assert _columns(h, "PUBLIC", "CLIENTS_TYPO") == ["CLIENT_ID", "EMAIL", "JOINED", "CHANGED_AT"]
    emails = h.query('SELECT "CLIENT_ID", "EMAIL" FROM "ANALYTICS"."PUBLIC"."CLIENTS_TYPO" ORDER BY 1')
    assert [tuple(r) for r in emails] == [(i, f"c{i}@example.com") for i in (1, 2, 3)]
    assert h.watermark("clients_typo") is not None


def test_a_rename_onto_another_exported_column_fails_the_load_naming_the_entry(pg, harness):
    _clients(pg, "public", "clients_onto", rows=2)
    h = harness.add("public.clients_onto", ["client_id"], "changed_at", rename='{ email_address = "JOINED" }')
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED", t.load
    assert (
        "rename.email_address of public.clients_onto: 'email_address' is renamed to 'JOINED', but column "
        in (t.load["error"])
    )
    assert h.watermark("clients_onto") is None and _columns(h, "PUBLIC", "CLIENTS_ONTO") == []


def test_changing_the_rename_of_a_loaded_table_restarts_it_and_fills_the_new_column_for_every_row(pg, harness):
    _clients(pg, "public", "clients_re", rows=4)
    h = harness.add("public.clients_re", ["client_id"], "changed_at")
    assert not h.cycle().failed
    assert _columns(h, "PUBLIC", "CLIENTS_RE") == ["CLIENT_ID", "EMAIL_ADDRESS", "JOINED", "CHANGED_AT"]
    h.tables[0] += 'rename = { email_address = "EMAIL" }\n'
    h._config = None
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    restarted = h.query(
        f"SELECT COUNT(*) FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = 'clients_re' AND STATUS = 'SUPERSEDED'"
    )
    assert restarted[0][0] >= 1  # the loaded history superseded: the export started from the beginning
    rows = h.query('SELECT "CLIENT_ID", "EMAIL", "EMAIL_ADDRESS" FROM "ANALYTICS"."PUBLIC"."CLIENTS_RE" ORDER BY 1')
    # every row has the new columns; the old column is kept as a column no longer exported (its last values)
    assert [tuple(r) for r in rows] == [(i, f"c{i}@example.com", f"c{i}@example.com") for i in range(1, 5)]
    cur = pg.cursor()
    cur.execute(
        "UPDATE public.clients_re SET email_address = 'x@example.com', changed_at = clock_timestamp() "
        "WHERE client_id = 1"
    )
    assert not h.cycle().failed
    row = h.query('SELECT "EMAIL", "EMAIL_ADDRESS" FROM "ANALYTICS"."PUBLIC"."CLIENTS_RE" WHERE "CLIENT_ID" = 1')
    assert tuple(row[0]) == ("x@example.com", "c1@example.com")
    report = _reconciled(h, "public.clients_re")
    assert (report["status"], report["source_rows"]) == ("CLEAN", 4), report


def test_a_renamed_column_dropped_in_the_source_stays_in_the_target_and_loads_go_on(pg, harness):
    _clients(pg, "public", "clients_drop", rows=2)
    h = harness.add("public.clients_drop", ["client_id"], "changed_at", rename='{ email_address = "EMAIL" }')
    assert not h.cycle().failed
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.clients_drop DROP COLUMN email_address")
    cur.execute("INSERT INTO public.clients_drop VALUES (3, DATE '2026-03-01', clock_timestamp())")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED" and t.load["rows_inserted"] == 1, t.load
    rows = h.query('SELECT "CLIENT_ID", "EMAIL" FROM "ANALYTICS"."PUBLIC"."CLIENTS_DROP" ORDER BY 1')
    assert [tuple(r) for r in rows] == [(1, "c1@example.com"), (2, "c2@example.com"), (3, None)]


@pytest.mark.parametrize("rows", [6, 200])  # a snapshot that swaps, and one that merges in place (full_merge)
def test_a_full_table_with_a_renamed_key_replaces_and_merges_by_it(pg, harness, rows):
    table = f"clients_full_{rows}"
    _clients(pg, "public", table, rows=rows)
    h = harness.add(f"public.{table}", ["client_id"], rename=RENAME)
    target = f'"ANALYTICS"."PUBLIC"."{table.upper()}"'
    assert not h.cycle().failed
    cur = pg.cursor()
    cur.execute(f"UPDATE public.{table} SET email_address = 'new@example.com' WHERE client_id = 2")
    cur.execute(f"DELETE FROM public.{table} WHERE client_id = 3")
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED" and t.load["rows_deleted"] == 1, t.load
    expected = {i: (f"c{i}@example.com", DAY) for i in range(1, rows + 1) if i != 3} | {2: ("new@example.com", DAY)}
    assert _rows(h, target) == expected
    assert compare(h).details == []
    report = _reconciled(h, f"public.{table}")
    assert (report["status"], report["source_rows"]) == ("CLEAN", rows - 1), report


def test_a_source_rename_of_a_renamed_column_fails_closed_until_the_rename_follows_it(pg, harness):
    """Schema drift: PostgreSQL renames a column that `rename` names. Following it would turn the target column
    CONTACT into EMAIL_ADDR behind the configuration's back; the batch fails naming the fix, and once the rename
    names the new column the table restarts and CONTACT holds every row."""
    _clients(pg, "public", "clients_src_rename", rows=2)
    h = harness.add("public.clients_src_rename", ["client_id"], "changed_at", rename='{ email_address = "CONTACT" }')
    assert not h.cycle().failed
    before = h.watermark("clients_src_rename")
    cur = pg.cursor()
    cur.execute("ALTER TABLE public.clients_src_rename RENAME COLUMN email_address TO email_addr")
    cur.execute(
        "INSERT INTO public.clients_src_rename VALUES (3, 'c3@example.com', DATE '2026-03-01', clock_timestamp())"
    )
    (t,) = h.cycle().tables
    assert t.load["status"] == "FAILED", t.load
    assert (
        "column 'email_address' was renamed to 'email_addr' in the source, but rename.email_address"
        in (t.load["error"])
    )
    assert "set rename.email_addr = 'CONTACT'" in t.load["error"]
    assert h.watermark("clients_src_rename") == before
    assert _columns(h, "PUBLIC", "CLIENTS_SRC_RENAME") == ["CLIENT_ID", "CONTACT", "JOINED", "CHANGED_AT"]

    h.tables[0] = h.tables[0].replace("email_address", "email_addr")
    h._config = None
    (t,) = h.cycle().tables
    assert t.load["status"] == "SUCCEEDED", t.load
    rows = h.query('SELECT "CLIENT_ID", "CONTACT" FROM "ANALYTICS"."PUBLIC"."CLIENTS_SRC_RENAME" ORDER BY 1')
    assert [tuple(r) for r in rows] == [(i, f"c{i}@example.com") for i in (1, 2, 3)]
    assert "EMAIL_ADDR" not in _columns(h, "PUBLIC", "CLIENTS_SRC_RENAME")
    assert compare(h).details == []
