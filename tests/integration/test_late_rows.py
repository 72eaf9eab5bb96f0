"""Late-arriving rows: a transaction that writes a watermark below the export's high bound but commits
after the export. The late-row guard keeps high below the oldest open transaction; a lookback
re-reads below the loaded watermark. Asserts rows in the target, the watermark and the manifest."""

from __future__ import annotations

import json
from typing import Any

import psycopg2
import pytest

from aurora_sync.cycle import export_request
from aurora_sync.export_client import LocalExporter
from aurora_sync.reconcile import reconcile
from lambda_exporter.errors import SourceError
from sync_contract.types import Kind
from sync_contract.watermark import sort_key

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
