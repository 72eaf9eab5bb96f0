"""Bad input: each case ends with a clear error recorded in RUNS or MANIFESTS, the watermark not
moved and the other tables unaffected (docs/CORRECTNESS.md lists them)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import boto3
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.stack.stack import BUCKET, PREFIX, REGION
from sync_contract.manifest import manifest_key
from tests.integration.signed import signed_body

pytestmark = pytest.mark.integration


def _s3(h: Any) -> Any:
    return boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint, region_name=REGION)


def _two_tables(pg: Any, harness: Any, bad: str, good: str) -> Any:
    cur = pg.cursor()
    for name in (bad, good):
        cur.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, v int NOT NULL)")
        cur.execute(f"INSERT INTO public.{name} SELECT g, g FROM generate_series(1, 20) g")
    return harness.add(f"public.{bad}", ["id"], "v", late_row_guard="false").add(
        f"public.{good}", ["id"], "v", late_row_guard="false"
    )


def _export(h: Any, index: int) -> dict[str, Any]:
    return h.exporter.export(export_request(h.config, h.config.tables[index], None))


def _manifest(h: Any, table: str, export_id: str) -> tuple[str, dict[str, Any]]:
    key = PREFIX + manifest_key("public", table, export_id)
    return key, json.loads(_s3(h).get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _ledger(h: Any, table: str) -> list[tuple[str, str]]:
    rows = h.query(
        f"SELECT STATUS, ERROR FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? ORDER BY EXPORT_ID", table
    )
    return [(r[0], r[1]) for r in rows]


def _good_table_loaded(h: Any, report: Any, table: str) -> None:
    good = next(t for t in report.tables if t.spec.source_table == table)
    assert not good.failed and good.load["rows_loaded"] == 20
    assert h.watermark(table) == "20"


def test_a_manifest_that_is_not_json_is_recorded_and_blocks_only_its_table(pg, harness):
    h = _two_tables(pg, harness, "bad_json", "ok_json")
    _export(h, 1)
    key = PREFIX + manifest_key("public", "bad_json", "not-a-manifest")
    _s3(h).put_object(Bucket=BUCKET, Key=key, Body=b'{"manifest_version": 1, "export_id": ')  # cut short
    report = h.cycle(export=False)
    bad = next(t for t in report.tables if t.spec.source_table == "bad_json")
    assert bad.failed and "COPY of manifests failed" in bad.errors[0]
    ((status, error),) = _ledger(h, "bad_json")
    assert status == "QUARANTINED" and "fix or remove the file named" in error
    assert h.watermark("bad_json") is None
    _good_table_loaded(h, report, "ok_json")
    # once the file is removed, the table's exports are taken in again and the record goes
    _s3(h).delete_object(Bucket=BUCKET, Key=key)
    assert not h.cycle().failed
    assert h.watermark("bad_json") == "20"
    assert [s for s, _ in _ledger(h, "bad_json")] == ["LOADED"]


def test_an_unknown_manifest_version_is_quarantined_naming_the_field(pg, harness):
    h = _two_tables(pg, harness, "bad_version", "ok_version")
    result = _export(h, 0)
    _export(h, 1)
    key, doc = _manifest(h, "bad_version", result["export_id"])
    doc["manifest_version"] = 2
    _s3(h).put_object(Bucket=BUCKET, Key=key, Body=signed_body(doc))
    report = h.cycle(export=False)
    ((status, error),) = _ledger(h, "bad_version")
    assert status == "QUARANTINED" and "manifest field manifest_version: unknown version 2" in error
    assert h.watermark("bad_version") is None
    _good_table_loaded(h, report, "ok_version")


@pytest.mark.parametrize("damage", ["missing", "truncated", "invalid_utf8"])
def test_a_missing_or_truncated_data_file_fails_the_batch_closed(pg, harness, damage):
    h = _two_tables(pg, harness, f"bad_file_{damage}", f"ok_file_{damage}")
    result = _export(h, 0)
    _export(h, 1)
    _, doc = _manifest(h, f"bad_file_{damage}", result["export_id"])
    data_key = PREFIX + doc["files"][0]["key"]
    if damage == "missing":
        _s3(h).delete_object(Bucket=BUCKET, Key=data_key)
    elif damage == "truncated":
        body = _s3(h).get_object(Bucket=BUCKET, Key=data_key)["Body"].read()
        assert gzip.decompress(body)  # a valid gzip stream, cut in the middle below
        _s3(h).put_object(Bucket=BUCKET, Key=data_key, Body=body[: len(body) // 2])
    else:  # a byte that is not UTF-8 in a text value (a SQL_ASCII source database can hold one)
        text = gzip.decompress(_s3(h).get_object(Bucket=BUCKET, Key=data_key)["Body"].read())
        damaged = text.replace(b'"1","1"', b'"1","1\xff"', 1)
        assert damaged != text
        _s3(h).put_object(Bucket=BUCKET, Key=data_key, Body=gzip.compress(damaged))
    report = h.cycle(export=False)
    bad = next(t for t in report.tables if t.spec.source_table == f"bad_file_{damage}")
    assert bad.failed and "nothing was merged" in bad.load["error"]
    ((status, error),) = _ledger(h, f"bad_file_{damage}")
    assert status == "FAILED" and "nothing was merged" in error
    assert h.watermark(f"bad_file_{damage}") is None
    runs = h.query(f"SELECT STATUS, ERROR FROM {h.control('RUNS')} WHERE SOURCE_TABLE = ?", f"bad_file_{damage}")
    assert runs[0][0] == "FAILED" and "nothing was merged" in runs[0][1]
    _good_table_loaded(h, report, f"ok_file_{damage}")


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_key_that_is_not_unique_in_the_source_fails_the_batch_naming_the_key(pg, harness, mode):
    """400 lineitem-like rows, 4 per l_orderkey, configured with primary_key = ["l_orderkey"]: one export
    is one snapshot, so a repeated key is a key that is not unique in the source."""
    table = f"lineitem_{mode}"
    cur = pg.cursor()
    cur.execute(
        f"CREATE TABLE public.{table} (l_orderkey int NOT NULL, l_linenumber int NOT NULL, "
        "l_quantity numeric(15,2), updated_at int NOT NULL)"
    )
    cur.execute(
        f"INSERT INTO public.{table} SELECT o, l, l * 1.5, o FROM generate_series(1, 100) o, generate_series(1, 4) l"
    )
    incremental = {"late_row_guard": "false"} if mode == "incremental" else {}  # an integer watermark
    h = harness.add(f"public.{table}", ["l_orderkey"], "updated_at" if incremental else None, **incremental)
    (t,) = h.cycle().tables
    assert t.failed and t.load["status"] == "FAILED"
    error = t.load["error"]
    assert f"public.{table}: the primary key (l_orderkey) is not unique in the source" in error
    assert "100 key values appear more than once in one snapshot (300 rows more than one per key)" in error
    assert "l_orderkey=1 (4 rows)" in error and "RESYNC_TABLE" in error
    assert t.load["rows_inserted"] == 0 and h.watermark(table) is None  # nothing merged, nothing moved
    status = h.query(f"SELECT STATUS FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table)
    assert [r[0] for r in status] == ["QUARANTINED"]  # retrying cannot help
    exists = h.query(
        "SELECT COUNT(*) FROM ANALYTICS.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC' AND TABLE_NAME = ?",
        table.upper(),
    )[0][0]
    rows = h.query(f'SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."{table.upper()}"')[0][0] if exists else 0
    assert rows == 0
    (again,) = h.cycle().tables  # the same window again is the same export: the table still waits on it
    assert again.load["status"] == "FAILED" and "waits on 1 QUARANTINED export(s)" in again.load["error"]
    assert "is not unique in the source" in again.load["error"] and "RETRY_MANIFEST" in again.load["error"]


def test_keys_equal_as_values_repeat_and_null_keys_are_set_aside_not_counted(pg, harness):
    """The check compares keys as the MERGE does (converted: numeric 1.0 = 1.00); rows whose key is NULL
    identify no row: they are quarantined as bad values, and do not make the key look repeated."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.key_values (k numeric, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.key_values VALUES (1.0, 'a', now()), (1.00, 'b', now()), (2, 'c', now())")
    cur.execute("CREATE TABLE public.key_nulls (k int, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.key_nulls VALUES (NULL, 'x', now()), (NULL, 'y', now()), (3, 'z', now())")
    h = harness.add("public.key_values", ["k"], "updated_at").add("public.key_nulls", ["k"], "updated_at")
    values, nulls = h.cycle().tables
    assert values.load["status"] == "FAILED"
    assert "1 key values appear more than once in one snapshot (1 rows more than one per key)" in values.load["error"]
    assert nulls.load["status"] == "SUCCEEDED", nulls.load
    assert (nulls.load["rows_inserted"], nulls.load["rows_quarantined"]) == (1, 2)
    assert [tuple(r) for r in h.query('SELECT "K", "V" FROM "ANALYTICS"."PUBLIC"."KEY_NULLS"')] == [(3, "z")]


def test_a_declared_composite_key_loads_every_row(pg, harness):
    """The same rows with the key that is unique (l_orderkey, l_linenumber) load whole."""
    cur = pg.cursor()
    cur.execute(
        "CREATE TABLE public.lineitem_ok (l_orderkey int NOT NULL, l_linenumber int NOT NULL, updated_at int NOT NULL)"
    )
    cur.execute("INSERT INTO public.lineitem_ok SELECT o, l, o FROM generate_series(1, 100) o, generate_series(1, 4) l")
    h = harness.add("public.lineitem_ok", ["l_orderkey", "l_linenumber"], "updated_at", late_row_guard="false")
    (t,) = h.cycle().tables
    assert not t.failed and t.load["rows_inserted"] == 400
    assert h.query('SELECT COUNT(*) FROM "ANALYTICS"."PUBLIC"."LINEITEM_OK"')[0][0] == 400


def test_rows_with_a_null_watermark_are_not_exported_as_documented(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.null_wm (id int PRIMARY KEY, updated_at timestamptz)")
    cur.execute("INSERT INTO public.null_wm VALUES (1, now()), (2, NULL)")
    h = harness.add("public.null_wm", ["id"], "updated_at")
    (t,) = h.cycle().tables
    assert not t.failed and t.load["rows_loaded"] == 1
    assert [r[0] for r in h.query('SELECT "ID" FROM "ANALYTICS"."PUBLIC"."NULL_WM"')] == [1]


def test_source_columns_named_like_the_syncs_own_are_refused_naming_them(pg, harness):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.own_rn (id int PRIMARY KEY, _aurora_sync_rn int, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.own_rn VALUES (1, 1, now()), (2, 1, now())")
    cur.execute("CREATE TABLE public.own_flag (id int PRIMARY KEY, _deleted boolean, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.own_flag VALUES (1, false, now())")
    h = harness.add("public.own_rn", ["id"], "updated_at")
    h.add("public.own_flag", ["id"], "updated_at", delete_detection='"soft_delete"')
    rn, flag = h.cycle().tables
    # the reserved prefix of every internal column (docs/CUSTOMIZATION.md, "Reserved names"), and the fix
    assert rn.load["status"] == "FAILED" and "'_AURORA_SYNC_RN' start(s) with _AURORA_SYNC_" in rn.load["error"]
    assert 'rename = { _aurora_sync_rn = "OTHER_NAME" }' in rn.load["error"]
    assert flag.load["status"] == "FAILED" and "columns ['_DELETED'] of public.own_flag" in flag.load["error"]
    assert "replicate a view that renames them" in flag.load["error"]
