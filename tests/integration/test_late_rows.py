"""Late-arriving rows: a transaction that writes a watermark below the export's high bound but commits
after the export. The late-row guard keeps high below the oldest open transaction; a lookback
re-reads below the loaded watermark. Asserts rows in the target, the watermark and the manifest."""

from __future__ import annotations

import json
from typing import Any

import boto3
import psycopg2
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from aurora_sync.stack.stack import BUCKET, PREFIX
from lambda_exporter.errors import SourceError
from sync_contract.manifest import manifest_prefix
from sync_contract.types import Kind
from sync_contract.watermark import sort_key
from tests.integration.test_cli import _cli

pytestmark = pytest.mark.integration


def _target(h: Any, table: str) -> dict[int, str]:
    return {r[0]: r[1] for r in h.query(f'SELECT "ID", "V" FROM "ANALYTICS"."PUBLIC"."{table}" ORDER BY "ID"')}


def _manifest_windows(h: Any, table: str) -> list[dict[str, Any]]:
    rows = h.query(f"SELECT DOC FROM {h.control('MANIFESTS')} WHERE SOURCE_TABLE = ? ORDER BY CREATED_AT", table)
    return [json.loads(r[0])["window"] for r in rows]


def _clean(h: Any) -> bool:
    (result,) = reconcile(h.snow, h.config.source_dsn, h.config.database, h.config.tables)
    return result.clean


def _late_transaction(endpoints: Any, sql: str) -> Any:
    """A second session that has written but not committed: it holds its transaction open."""
    slow = psycopg2.connect(endpoints.pg_dsn)
    slow.cursor().execute(sql)
    return slow


def test_a_row_committed_after_the_export_below_its_high_bound_is_not_lost(pg, harness, endpoints):
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.late_a (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.late_a SELECT g, 'old', now() FROM generate_series(1, 10) g")
    # a long transaction stamps row 1 with its own start time, then stays open ...
    slow = _late_transaction(endpoints, "UPDATE public.late_a SET v = 'late', updated_at = now() WHERE id = 1")
    # ... while later transactions commit newer rows
    cur.execute("INSERT INTO public.late_a SELECT g, 'new', clock_timestamp() FROM generate_series(11, 20) g")
    h = harness.add("public.late_a", ["id"], "updated_at")
    try:
        first = h.cycle()
        assert not first.failed
        # nothing at or above the open transaction's start was taken: rows 11..20 wait for the next window
        assert _target(h, "LATE_A") == {i: "old" for i in range(1, 11)}
        (window,) = _manifest_windows(h, "late_a")
        assert window["bound"] == "max_watermark_below_open_transactions"
        assert sort_key(Kind.TIMESTAMP_TZ, window["high"]) < sort_key(Kind.TIMESTAMP_TZ, window["guard"])
    finally:
        slow.commit()
        slow.close()
    second = h.cycle()
    assert not second.failed
    target = _target(h, "LATE_A")
    assert target[1] == "late" and len(target) == 20
    cur.execute("SELECT max(updated_at)::text FROM public.late_a")
    assert h.watermark("late_a") == cur.fetchone()[0]
    assert _clean(h)


def test_without_the_guard_the_same_late_row_is_lost(pg, harness, endpoints):
    """Why the guard exists: the test above fails without it."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.late_b (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.late_b SELECT g, 'old', now() FROM generate_series(1, 10) g")
    slow = _late_transaction(endpoints, "UPDATE public.late_b SET v = 'late', updated_at = now() WHERE id = 1")
    cur.execute("INSERT INTO public.late_b SELECT g, 'new', clock_timestamp() FROM generate_series(11, 20) g")
    h = harness.add("public.late_b", ["id"], "updated_at", late_row_guard="false")
    try:
        assert not h.cycle().failed
    finally:
        slow.commit()
        slow.close()
    assert not h.cycle().failed
    assert _target(h, "LATE_B")[1] == "old"  # the committed 'late' value never arrives
    assert not _clean(h)


def test_a_lookback_recovers_a_late_row_of_a_numeric_watermark(pg, harness, endpoints):
    """A sequence-valued watermark carries no time, so the guard cannot apply; a lookback re-reads
    the values just below the loaded watermark and the MERGE absorbs what it already has."""
    cur = pg.cursor()
    cur.execute("CREATE SEQUENCE public.late_c_version")
    cur.execute(
        "CREATE TABLE public.late_c (id int PRIMARY KEY, v text, "
        "version bigint NOT NULL DEFAULT nextval('public.late_c_version'))"
    )
    cur.execute("INSERT INTO public.late_c (id, v) SELECT g, 'old' FROM generate_series(1, 5) g")
    # takes version 6, commits last
    slow = _late_transaction(endpoints, "INSERT INTO public.late_c (id, v) VALUES (6, 'late')")
    cur.execute("INSERT INTO public.late_c (id, v) VALUES (7, 'new')")  # version 7, committed
    h = harness.add("public.late_c", ["id"], "version", lookback="'10'")
    try:
        assert not h.cycle().failed
        assert h.watermark("late_c") == "7"
        assert 6 not in _target(h, "LATE_C")
    finally:
        slow.commit()
        slow.close()
    second = h.cycle()
    assert second.tables[0].export["status"] == "no_change"
    # nothing above 7 changed, so no export: the late row needs a change above the watermark or ...
    cur.execute("INSERT INTO public.late_c (id, v) VALUES (8, 'next')")  # ... the next change, version 8
    third = h.cycle()
    assert not third.failed
    (t,) = third.tables
    assert _target(h, "LATE_C") == {1: "old", 2: "old", 3: "old", 4: "old", 5: "old", 6: "late", 7: "new", 8: "next"}
    assert (t.load["rows_inserted"], t.load["rows_updated"]) == (2, 0)  # 6 and 8; the repeats change nothing
    windows = _manifest_windows(h, "late_c")
    assert windows[-1]["lookback"] == "10" and windows[-1]["low"] == "7"
    assert _clean(h)


def test_the_guard_refuses_to_run_blind(pg, harness, endpoints):
    """A role that cannot see other roles' transactions cannot place the guard: the export fails and
    says which grant fixes it, and nothing is exported."""
    cur = pg.cursor()
    cur.execute("CREATE TABLE public.late_d (id int PRIMARY KEY, updated_at timestamptz NOT NULL)")
    cur.execute("INSERT INTO public.late_d SELECT g, now() FROM generate_series(1, 3) g")
    cur.execute("CREATE ROLE late_reader LOGIN PASSWORD 'late-reader-pw'")
    cur.execute("GRANT SELECT ON public.late_d TO late_reader")
    h = harness.add("public.late_d", ["id"], "updated_at")
    params = psycopg2.extensions.parse_dsn(endpoints.pg_dsn) | {"user": "late_reader", "password": "late-reader-pw"}
    dsn = " ".join(f"{k}={v}" for k, v in params.items())
    exporter = LocalExporter(dsn, h.config.s3.endpoint_url)
    with pytest.raises(SourceError, match="GRANT pg_read_all_stats TO the exporter's role"):
        exporter.export(export_request(h.config, h.config.tables[0], None))
    cur.execute("GRANT pg_read_all_stats TO late_reader")
    assert exporter.export(export_request(h.config, h.config.tables[0], None))["rows"] == 3


# A number carries no time, so the guard cannot hold for an integer or numeric watermark: such a table
# is refused unless its configuration says how it takes the risk (lookback, or late_row_guard = false).
NUMBER_WATERMARKS = [("int", "integer"), ("numeric(20,0)", "numeric(20,0)")]


def _exported(h: Any, table: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=h.stack.endpoints.s3_endpoint)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + manifest_prefix("public", table))
    return [o["Key"] for o in listed.get("Contents", [])]


def _target_exists(h: Any, table: str) -> bool:
    text = "SELECT COUNT(*) FROM ANALYTICS.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC' AND TABLE_NAME = ?"
    return bool(h.query(text, table)[0][0])


@pytest.mark.parametrize(("column_type", "described"), NUMBER_WATERMARKS, ids=["integer", "numeric"])
def test_a_number_watermark_without_lookback_or_late_row_guard_false_is_refused(
    pg, harness, tmp_path, column_type, described
):
    """The default (guard on, no lookback) fails the export naming the column and the three fixes;
    nothing is exported or loaded. The same table with late_row_guard = false then loads whole."""
    table = f"late_{column_type.split('(')[0]}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, v text, seq {column_type} NOT NULL)")
    cur.execute(f"INSERT INTO public.{table} SELECT g, 'row ' || g, g FROM generate_series(1, 10) g")
    config = tmp_path / "sync.toml"
    config.write_text(harness.add(f"public.{table}", ["id"], "seq").toml)

    refused = _cli("run", "--config", str(config))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join(refused.stdout.split())  # the console wraps long lines
    says = [
        f"public.{table}: watermark column 'seq' is {described}",
        "the late-row guard cannot apply to a number",
        'lookback = "N"',
        "late_row_guard = false",
        "timestamp watermark",
    ]
    assert f"public.{table}: export failed" in said and all(s in said for s in says), said
    ((run_id, status, error),) = harness.query(
        f"SELECT RUN_ID, STATUS, ERROR FROM {harness.control('RUNS')} WHERE SOURCE_TABLE = ?", table
    )
    assert status == "FAILED" and error.startswith("export failed: ") and all(s in error for s in says), error
    requests = harness.query(
        f"SELECT STATUS, ERROR FROM {harness.control('EXPORT_REQUESTS')} WHERE RUN_ID = ? AND SOURCE_TABLE = ?",
        run_id,
        table,
    )
    assert [r[0] for r in requests] == ["FAILED"] and all(s in requests[0][1] for s in says)
    # nothing exported, nothing loaded, the watermark unset
    assert _exported(harness, table) == []
    assert harness.query(f"SELECT COUNT(*) FROM {harness.control('MANIFESTS')} WHERE SOURCE_TABLE = ?", table) == [(0,)]
    assert not _target_exists(harness, table.upper()) and harness.watermark(table) is None

    # the user takes the risk explicitly: the same table loads whole
    harness.tables = []
    config.write_text(harness.add(f"public.{table}", ["id"], "seq", late_row_guard="false").toml)
    loaded = _cli("run", "--config", str(config))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert _target(harness, table.upper()) == {i: f"row {i}" for i in range(1, 11)}
    assert harness.watermark(table) == "10"
    statuses = harness.query(f"SELECT STATUS FROM {harness.control('RUNS')} WHERE SOURCE_TABLE = ? ORDER BY 1", table)
    assert [r[0] for r in statuses] == ["FAILED", "SUCCEEDED"]
    assert _clean(harness)


def test_an_integer_watermark_with_a_lookback_loads_and_a_late_row_within_it_arrives(pg, harness, endpoints):
    """lookback = "5" makes the table acceptable with the guard left on: it loads, and a row whose
    value (6) is below the loaded watermark (7) when it commits arrives with the next export, whose
    window re-reads from 7 - 5."""
    cur = pg.cursor()
    cur.execute("CREATE SEQUENCE public.late_e_seq")
    cur.execute(
        "CREATE TABLE public.late_e (id int PRIMARY KEY, v text, seq int NOT NULL DEFAULT nextval('public.late_e_seq'))"
    )
    cur.execute("INSERT INTO public.late_e (id, v) SELECT g, 'old' FROM generate_series(1, 5) g")
    slow = _late_transaction(endpoints, "INSERT INTO public.late_e (id, v) VALUES (6, 'late')")  # seq 6, open
    cur.execute("INSERT INTO public.late_e (id, v) VALUES (7, 'new')")  # seq 7, committed
    h = harness.add("public.late_e", ["id"], "seq", lookback='"5"')
    try:
        (first,) = h.cycle().tables
        assert not first.failed and first.load["rows_inserted"] == 6
        assert h.watermark("late_e") == "7" and 6 not in _target(h, "LATE_E")
    finally:
        slow.commit()
        slow.close()
    cur.execute("INSERT INTO public.late_e (id, v) VALUES (8, 'next')")  # seq 8: the next change
    (t,) = h.cycle().tables
    assert not t.failed
    assert _target(h, "LATE_E") == {1: "old", 2: "old", 3: "old", 4: "old", 5: "old", 6: "late", 7: "new", 8: "next"}
    assert (t.load["rows_inserted"], t.load["rows_updated"]) == (2, 0)  # 6 and 8; the repeats change nothing
    assert h.watermark("late_e") == "8"
    windows = _manifest_windows(h, "late_e")
    assert (windows[-1]["lookback"], windows[-1]["low"], windows[-1]["high"]) == ("5", "7", "8")
    assert _clean(h)


@pytest.mark.parametrize(
    ("column", "lookback", "wanted"),
    [("bigint", '"10 minutes"', 'a number such as "1000"'), ("timestamptz", '"100"', "an interval such as")],
)
def test_a_lookback_of_the_wrong_kind_for_the_watermark_is_refused_naming_it(pg, harness, column, lookback, wanted):
    table = f"lookback_kind_{column}"
    cur = pg.cursor()
    cur.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, updated_at {column} NOT NULL)")
    value = "1" if column == "bigint" else "now()"
    cur.execute(f"INSERT INTO public.{table} VALUES (1, {value})")
    (t,) = harness.add(f"public.{table}", ["id"], "updated_at", lookback=lookback).cycle().tables
    assert t.load["status"] == "FAILED"
    assert f"lookback {json.loads(lookback)!r} does not fit watermark column 'updated_at'" in t.load["error"]
    assert wanted in t.load["error"]
